"""A CI upload flow over HTTP against `scripts/run_local.py` (moto server +
chalice local): partial reports of several languages and shards, then
coverageFinal, then the read-back, checked against numbers computed here,
independently of the service's code."""
import os

import pytest
import requests

from tests import upload_bodies as b

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # the `local_server` fixture

COMMIT = os.urandom(20).hex()

# Three partial reports: python in two shards (overlapping on src/core.py),
# and javascript. Lines are {line: hits}.
SHARDS = [
    ("python", {"src/core.py": {1: 1, 2: 0, 3: 0, 4: 7}, "src/cli.py": {1: 0, 2: 0}}),
    ("python", {"src/core.py": {2: 3, 5: 0}, "src/util.py": {1: 1}}),
    ("javascript", {"web/app.js": {1: 1, 2: 1, 3: 0}}),
]


def expected_coverage():
    """Per file: the union of lines; a line is covered if any shard hit it."""
    lines: dict[str, dict[int, bool]] = {}
    for _, files in SHARDS:
        for name, hits in files.items():
            for line, count in hits.items():
                lines.setdefault(name, {})
                lines[name][line] = lines[name].get(line, False) or count > 0
    per_file = {name: (sum(v.values()), len(v)) for name, v in lines.items()}
    covered = sum(c for c, _ in per_file.values())
    coverable = sum(n for _, n in per_file.values())
    return per_file, covered, coverable


def test_partial_reports_then_final_read_back_over_http(local_server):
    base = local_server.url
    project = {"project_token": local_server.project, "Content-Type": "application/json"}
    for language, files in SHARDS:
        answer = requests.post(f"{base}/2.0/coverage/{COMMIT}/{language}?partial=true",
                               json=b.coverage(files), headers=project, timeout=30)
        assert answer.status_code == 200 and "success" in answer.json(), answer.text
    # a client retry of the first shard changes nothing
    retry = requests.post(f"{base}/2.0/coverage/{COMMIT}/python?partial=true",
                          json=b.coverage(SHARDS[0][1]), headers=project, timeout=30)
    assert retry.status_code == 200
    read_back = f"{base}/api/v3/organizations/gh/demo/repositories/hello/commits/{COMMIT}/coverage"
    account = {"api-token": local_server.account}
    before = requests.get(read_back, headers=account, timeout=30).json()["data"]
    assert before["final"] is False and len(before["reports"]) == 3

    final = requests.post(f"{base}/2.0/commit/{COMMIT}/coverageFinal", json={}, headers=project, timeout=30)
    assert final.status_code == 200 and final.json() == {"success": f"Coverage of commit {COMMIT} is final"}

    data = requests.get(read_back, headers=account, timeout=30).json()["data"]
    per_file, covered, coverable = expected_coverage()
    assert data["final"] is True
    assert (data["total"]["covered"], data["total"]["coverable"]) == (covered, coverable) == (6, 11)
    assert abs(data["total"]["percentage"] - 100 * covered / coverable) < 0.01
    assert {f["filename"]: (f["covered"], f["coverable"]) for f in data["files"]} == per_file
    assert sorted((r["language"], r["partial"]) for r in data["reports"]) == [
        ("javascript", True), ("python", True), ("python", True)]


def test_analysis_upload_then_results_final_over_http(local_server):
    base = local_server.url
    account = {"api-token": local_server.account, "api_token": local_server.account}
    prefix = f"{base}/2.0/gh/demo/hello/commit/{COMMIT}"
    body = [b.issues("eslint", {"web/app.js": [b.issue("web/app.js", level="Error", column=2),
                                               b.issue("web/app.js", line=3)]})]
    assert requests.post(f"{prefix}/issuesRemoteResults", json=body, headers=account, timeout=30).status_code == 200
    assert requests.post(f"{prefix}/resultsFinal", headers=account, timeout=30).json() == {
        "success": f"Analysis results of commit {COMMIT} are final"}
    data = requests.get(f"{base}/api/v3/organizations/gh/demo/repositories/hello/commits/{COMMIT}/analysis",
                        headers={"project-token": local_server.project}, timeout=30).json()["data"]
    assert data["resultsFinal"] is True
    assert data["issues"]["byTool"] == {"eslint": {"issues": 2, "byLevel": {"Error": 1, "Info": 1}, "fileErrors": 0}}


def test_unknown_route_and_wrong_token_kind_over_http(local_server):
    base = local_server.url
    wrong = requests.post(f"{base}/2.0/commit/{COMMIT}/coverageFinal", json={},
                          headers={"api-token": local_server.account}, timeout=30)
    assert wrong.status_code == 403 and wrong.json()["error"].startswith("this path takes a project token")
    revoked_like = requests.post(f"{base}/2.0/commit/{COMMIT}/coverageFinal", json={},
                                 headers={"project_token": "lkp_" + "0" * 33}, timeout=30)
    assert (revoked_like.status_code, revoked_like.json()) == (404, {"error": "not found"})
