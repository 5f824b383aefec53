"""Every read-back answers far below Lambda's 6 MB response limit, at the
largest inputs the limits allow (issue 11): the most reports a commit may
hold, names as long as they may be, every list as full as it is kept, and
the fullest page of files.

The uploads go through the service (what each upload request runs); the
answers through the API, measured in bytes as sent.
"""
import json

import pytest

from chalicelib.access import Principal
from chalicelib.payloads import analysis, checks, readback
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings
from chalicelib.token_format import Kind
from tests.upload_bodies import COMMIT

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
ANALYSIS_BUDGET = 1024 * 1024  # "well under 1 MB": asserted below at 60 % of it
PATH = "/api/v3/organizations/gh/acme/repositories/widgets/commits/" + COMMIT


@pytest.fixture
def world(make, admin, root):
    make.repo("gh/acme/widgets")
    live = admin.store.repository(RepositoryRef("gh", "acme", "widgets"))
    project = Principal(Kind.PROJECT, 1, repository=RepositoryRef.of(live))
    reader = make.user("reader@example.com").grant("gh/acme/widgets", "read").token()
    return root.uploads, project, reader


def long_name(n: int, width: int = readback.MAX_FILENAME_CHARS) -> str:
    stem = f"src/{n:06}/"
    return stem + "x" * (width - len(stem) - 3) + ".py"


def answer_bytes(api, path, token) -> tuple[int, dict]:
    response = api.client.http.request("GET", path, headers={"api-token": token})
    assert response.status_code == 200, response.body
    return len(response.body), json.loads(response.body)


@pytest.mark.slow  # 200 uploads: ~10 s alone
def test_coverage_read_back_at_the_largest_commit_stays_small(api, world):
    service, project, reader = world
    settings = get_settings()
    language = "l" * checks.MAX_LANGUAGE

    def send(files, partial=True):
        body = {"fileReports": [{"filename": name, "coverage": {str(line): 1 for line in lines}}
                                for name, lines in files.items()]}
        service.upload_coverage(project, None, COMMIT, language, partial, body, json.dumps(body).encode())

    # The fullest page: 100 rows of the longest names, then as many reports as a commit may hold.
    send({long_name(n): range(1, 50) for n in range(250)})
    for n in range(settings.max_coverage_reports_per_commit - 1):
        send({f"r{n}.py": [1]})
    size, body = answer_bytes(api, PATH + "/coverage", reader)
    assert len(body["data"]["reports"]) == settings.max_coverage_reports_per_commit
    assert len(body["data"]["files"]) == 100 and body["pagination"]["total"] == 250 + 199
    assert size < ANALYSIS_BUDGET * 0.6 < LAMBDA_RESPONSE_LIMIT


@pytest.mark.slow  # the largest commit
def test_analysis_read_back_at_the_largest_commit_stays_well_under_1_mb(api, world):
    service, project, reader = world
    names = get_settings().max_analysis_names_per_commit
    tools = [f"{n:03}" + "t" * (checks.MAX_NAME_CHARS - 3) for n in range(names)]
    levels = [f"{n:03}" + "L" * (checks.MAX_NAME_CHARS - 3) for n in range(analysis.MAX_LEVELS_PER_COMMIT)]
    message = "m" * checks.MAX_KEPT_MESSAGE_CHARS

    def issue(name, level):
        return {"Issue": {"patternId": {"value": "p"}, "filename": name, "message": "x", "level": level,
                          "location": {"LineLocation": {"line": 1}}}}

    def send(kind, body):
        service.upload_analysis(project, None, COMMIT, kind, body, json.dumps(body).encode())

    # Every tool with its 10 levels (20 in all) on each of 150 longest-named files.
    files = [long_name(n) for n in range(150)]
    for start in range(0, names, 10):
        send("issues", [
            {"tool": tool, "issues": {"Success": {"results": [
                {"filename": name, "results": [issue(name, levels[(t + k) % len(levels)])
                                               for k in range(analysis.MAX_LEVELS)]} for name in files]}}}
            for t, tool in enumerate(tools[start:start + 10], start)])
    # Every kept list full of the longest entries.
    send("issues", [{"tool": tools[0], "issues": {"Success": {"results": [
        {"FileError": {"filename": long_name(n), "message": message}} for n in range(analysis.MAX_KEPT_PER_COMMIT)]}}}]
        + [{"tool": tool, "issues": {"Failure": {"message": message}}} for tool in tools])
    languages = [f"{n:03}" + "g" * (checks.MAX_NAME_CHARS - 3) for n in range(names)]
    send("metrics", [{"language": lang, "metrics": {"Success": {"results": [
        {"file": "a.py", "metrics": {"loc": 10 ** 9, "complexity": 10 ** 9}}]}}} for lang in languages])
    send("metrics", [{"language": lang, "metrics": {"Failure": {"message": message}}} for lang in languages])
    send("duplication", [{"language": lang, "duplication": {"Failure": {"message": message}}} for lang in languages])
    size, body = answer_bytes(api, PATH + "/analysis", reader)
    data = body["data"]
    assert len(data["issues"]["byTool"]) == names and len(data["issues"]["byLevel"]) == len(levels)
    assert len(data["toolFailures"]) == len(data["fileErrors"]["items"]) == analysis.MAX_KEPT_PER_COMMIT
    assert len(data["issuesByFile"]) == 100 and body["pagination"]["total"] == 150
    assert size < ANALYSIS_BUDGET * 0.6


def test_analysis_refuses_names_past_the_commit_bounds(world):
    from chalicelib.errors import BadRequest, PayloadTooLarge

    service, project, _ = world
    names = get_settings().max_analysis_names_per_commit
    body = [{"tool": f"t{n}", "issues": {"Failure": {"message": "m"}}} for n in range(names)]
    service.upload_analysis(project, None, COMMIT, "issues", body, json.dumps(body).encode())
    one_more = [{"tool": "late", "issues": {"Failure": {"message": "m"}}}]
    with pytest.raises(PayloadTooLarge, match="MAX_ANALYSIS_NAMES_PER_COMMIT"):
        service.upload_analysis(project, None, COMMIT, "issues", one_more, json.dumps(one_more).encode())
    too_long = [{"tool": "t0", "issues": {"Success": {"results": [{"filename": long_name(1, 1025), "results": [
        {"Issue": {"patternId": {"value": "p"}, "filename": long_name(1, 1025), "message": "x", "level": "Info",
                   "location": {"LineLocation": {"line": 1}}}}]}]}}}]
    with pytest.raises(BadRequest, match="at most 1024 characters"):
        service.upload_analysis(project, None, COMMIT, "issues", too_long, json.dumps(too_long).encode())
