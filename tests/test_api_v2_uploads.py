"""Uploads from CI through chalice.test.Client: partial and final reports,
retries, bad input, size limits, and what a user sees when reading it back
through /api/v3. Who may call each /2.0 route: tests/test_api_v2_access.py."""
import json

import pytest

from tests import upload_bodies as b
from tests.upload_bodies import COMMIT, OTHER_COMMIT

NOT_FOUND = (404, {"error": "not found"})
REPO = "gh/acme/widgets"
READ_BACK = "/api/v3/organizations/gh/acme/repositories/widgets/commits/{commit}/{what}"

COVERAGE_BODY = b.coverage({"src/a.py": {1: 1, 2: 0}})
ISSUES_BODY = [b.issues(files={"src/a.js": [b.issue()]})]


class Tokens(dict):
    """Tokens by role, made on first use (each costs a few moto calls)."""

    def __init__(self, make):
        super().__init__()
        self.make = make
        make.repo(REPO)

    def __missing__(self, role):
        make = self.make
        if role == "project":
            value = make.project_token(REPO)
        elif role == "other_project":
            value = make.project_token(make.repo("gh/acme/other"))
        else:
            target, grant = {"writer": (REPO, "write"), "reader": (REPO, "read"),
                             "admin": ("gh/acme", "admin"), "stranger": (None, None)}[role]
            user = make.user(f"{role}@example.com")
            if target:
                user.grant(target, grant)
            value = user.token()
        self[role] = value
        return value


@pytest.fixture
def tokens(make):
    """The repository, its project token, and account tokens by role."""
    return Tokens(make)


# -- read-back -----------------------------------------------------------------

def test_read_back_bad_commit_is_400(api, tokens):
    status, answer = api.get(READ_BACK.format(commit="abc", what="coverage"), tokens["reader"])
    assert status == 400 and "40-character" in answer["error"]


def coverage_of(api, token, commit=COMMIT):
    status, answer = api.get(READ_BACK.format(commit=commit, what="coverage"), token)
    assert status == 200
    return answer["data"]


def test_coverage_partials_merged_on_final(api, tokens):
    token = tokens["project"]
    python = b.coverage({"src/a.py": {1: 1, 2: 0, 3: 5}, "src/shared.txt": {1: 0}})
    java = b.coverage({"src/A.java": {1: 0, 2: 0}, "src/shared.txt": {1: 2, 2: 0}})
    assert api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=python)[0] == 200
    assert api.post(f"/2.0/coverage/{COMMIT}/java?partial=true", token, body=java)[0] == 200
    before = coverage_of(api, tokens["reader"])
    assert before["final"] is False and [r["partial"] for r in before["reports"]] == [True, True]
    assert api.post(f"/2.0/commit/{COMMIT}/coverageFinal", token, body={}) == (
        200, {"success": f"Coverage of commit {COMMIT} is final"})
    data = coverage_of(api, tokens["reader"])
    assert data["final"] is True and data["finalizedAt"]
    # a.py 2/3, A.java 0/2, shared.txt: line 1 hit in one report -> 1/2
    assert data["total"] == {"files": 3, "covered": 3, "coverable": 7, "percentage": 42.86}
    assert data["files"] == [
        {"filename": "src/A.java", "covered": 0, "coverable": 2, "percentage": 0.0},
        {"filename": "src/a.py", "covered": 2, "coverable": 3, "percentage": 66.67},
        {"filename": "src/shared.txt", "covered": 1, "coverable": 2, "percentage": 50.0},
    ]
    assert sorted(r["language"] for r in data["reports"]) == ["java", "python"]


def test_coverage_complete_report_replaces_same_language(api, tokens):
    token = tokens["project"]
    api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=b.coverage({"a.py": {1: 0}}))
    api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=b.coverage({"b.py": {1: 0}}))
    api.post(f"/2.0/coverage/{COMMIT}/go", token, body=b.coverage({"c.go": {1: 1}}))
    status, answer = api.post(f"/2.0/coverage/{COMMIT}/python", token, body=b.coverage({"a.py": {1: 3, 2: 1}}))
    assert (status, answer) == (200, {"success": f"Coverage report (python, complete) received for commit {COMMIT}"})
    data = coverage_of(api, token)
    assert [(r["language"], r["partial"]) for r in data["reports"]] == [("go", False), ("python", False)]
    assert data["total"] == {"files": 2, "covered": 3, "coverable": 3, "percentage": 100.0}
    assert data["final"] is True and data["finalizedAt"] is None


def test_coverage_retry_is_idempotent(api, tokens):
    token = tokens["project"]
    body = b.coverage({"a.py": {1: 1, 2: 0}})
    for _ in range(3):
        assert api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=body)[0] == 200
    data = coverage_of(api, token)
    assert len(data["reports"]) == 1
    assert data["total"] == {"files": 1, "covered": 1, "coverable": 2, "percentage": 50.0}


def test_coverage_partial_after_final_reopens_commit(api, tokens):
    token = tokens["project"]
    api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=b.coverage({"a.py": {1: 1}}))
    api.post(f"/2.0/commit/{COMMIT}/coverageFinal", token, body={})
    api.post(f"/2.0/coverage/{COMMIT}/java?partial=true", token, body=b.coverage({"A.java": {1: 0}}))
    assert coverage_of(api, token)["final"] is False


def test_coverage_language_case_and_escaped_space(api, tokens):
    token = tokens["project"]
    assert api.post(f"/2.0/coverage/{COMMIT.upper()}/Visual%20Basic", token, body=COVERAGE_BODY)[0] == 200
    assert api.post(f"/2.0/coverage/{COMMIT}/visual basic", token, body=COVERAGE_BODY)[0] == 200
    data = coverage_of(api, token)
    assert [r["language"] for r in data["reports"]] == ["visual basic"]


def test_coverage_old_client_fields_accepted(api, tokens):
    body = b.coverage({"a.py": {1: 1, 2: 0}}, total=99, codeLines=2, language="python")
    body["fileReports"][0].update(total=99, codeLines=2)
    assert api.post(f"/2.0/coverage/{COMMIT}/python", tokens["project"], body=body)[0] == 200
    assert coverage_of(api, tokens["project"])["total"]["percentage"] == 50.0


def test_commits_are_kept_apart(api, tokens):
    token = tokens["project"]
    api.post(f"/2.0/coverage/{COMMIT}/python", token, body=b.coverage({"a.py": {1: 1}}))
    assert coverage_of(api, token, OTHER_COMMIT) == {
        "commit": OTHER_COMMIT, "final": False, "finalizedAt": None,
        "total": {"files": 0, "covered": 0, "coverable": 0, "percentage": None}, "files": [], "reports": [],
    }


def test_revoked_project_token_is_not_found_and_uploads_stay(api, tokens, make):
    account = make.user("owner@example.com").grant("gh/acme", "admin").token()
    _status, created = api.post("/api/v3/organizations/gh/acme/repositories/widgets/tokens", account)
    token = created["data"]["token"]
    assert api.post(f"/2.0/coverage/{COMMIT}/python", token, body=COVERAGE_BODY, header="project_token")[0] == 200
    path = f"/api/v3/organizations/gh/acme/repositories/widgets/tokens/{created['data']['id']}"
    assert api.delete(path, account)[0] == 204
    assert api.post(f"/2.0/coverage/{COMMIT}/java", token, body=COVERAGE_BODY, header="project_token") == NOT_FOUND
    assert api.post(f"/2.0/commit/{COMMIT}/coverageFinal", token, body={}) == NOT_FOUND
    data = coverage_of(api, account)
    assert [r["language"] for r in data["reports"]] == ["python"]
    assert data["total"]["covered"] == 1


def test_analysis_read_back_sums_batches(api, tokens):
    token = tokens["project"]
    batch_one = [
        b.issues("eslint", {"src/a.js": [b.issue(level="Info"), b.issue(level="Error", column=3)],
                            "src/b.js": [b.issue("src/b.js", level="Error"), b.file_error("src/b.js")]}),
        b.issues("pylint", failure="pylint crashed"),
    ]
    batch_two = [b.issues("eslint", {"src/c.js": [b.issue("src/c.js", level="Warning")]}),
                 {"tool": "semgrep", "issues": {"Success": {"results": [b.file_error("src/d.py", {"text": "x"})]}}}]
    for batch in (batch_one, batch_two):
        assert api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", token, body=batch)[0] == 200
    api.post(f"/2.0/commit/{COMMIT}/metricsRemoteResults", token, body=[
        b.metrics("javascript", {"src/a.js": {"loc": 10, "cloc": 2, "complexity": 3, "nrMethods": 1,
                                              "lineComplexities": [{"line": 1, "value": 2}]},
                                 "src/b.js": {"loc": 5}}),
        b.metrics("python", failure="radon missing")])
    api.post(f"/2.0/commit/{COMMIT}/duplicationRemoteResults", token,
             body=[b.duplication(clones=[(40, 5), (60, 7)])])
    status, data = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), tokens["reader"])
    assert status == 200
    data = data["data"]
    assert data["resultsFinal"] is False
    assert data["issues"] == {
        "total": 4, "byLevel": {"Error": 2, "Info": 1, "Warning": 1},
        "byTool": {
            "eslint": {"issues": 4, "byLevel": {"Error": 2, "Info": 1, "Warning": 1}, "fileErrors": 1},
            "pylint": {"issues": 0, "byLevel": {}, "fileErrors": 0},
            "semgrep": {"issues": 0, "byLevel": {}, "fileErrors": 1},
        },
    }
    assert data["fileErrors"] == {"total": 2, "items": [
        {"tool": "eslint", "filename": "src/b.js", "message": "could not parse"},
        {"tool": "semgrep", "filename": "src/d.py", "message": "x"}]}
    assert data["toolFailures"] == [{"tool": "pylint", "message": "pylint crashed"}]
    assert data["metrics"]["total"] == {"files": 2, "complexity": 3, "loc": 15, "cloc": 2, "nrMethods": 1,
                                        "nrClasses": 0}
    assert data["metrics"]["failures"] == [{"language": "python", "message": "radon missing"}]
    assert data["duplication"]["total"] == {"clones": 2, "duplicatedLines": 12, "duplicatedTokens": 100,
                                            "analysedFiles": 2}
    assert {k: data["uploads"][k] for k in ("issues", "metrics", "duplication")} == {
        "issues": 2, "metrics": 1, "duplication": 1}
    assert data["issuesByFile"] == [
        {"filename": "src/a.js", "issues": 2, "fileErrors": 0, "byLevel": {"Error": 1, "Info": 1}},
        {"filename": "src/b.js", "issues": 1, "fileErrors": 1, "byLevel": {"Error": 1}},
        {"filename": "src/c.js", "issues": 1, "fileErrors": 0, "byLevel": {"Warning": 1}},
        {"filename": "src/d.py", "issues": 0, "fileErrors": 1, "byLevel": {}},
    ]
    assert api.post(f"/2.0/commit/{COMMIT}/resultsFinal", token)[0] == 200
    final = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), token)[1]["data"]
    assert final["resultsFinal"] is True and final["resultsFinalAt"]


def test_analysis_batch_retry_is_idempotent(api, tokens):
    for _ in range(2):
        assert api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", tokens["project"], body=ISSUES_BODY)[0] == 200
    data = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), tokens["project"])[1]["data"]
    assert data["issues"]["total"] == 1 and data["uploads"]["issues"] == 1


def compact_issue(line):
    # The smallest issue the analysis CLI sends (codacy-compat.md): 50,000
    # of them fit in one 6 MB body; the CLI's fuller ones need smaller batches.
    return {"Issue": {"patternId": {"value": "p"}, "filename": "a", "message": "m", "level": "Info",
                      "location": {"LineLocation": {"line": line}}}}


@pytest.mark.slow  # 6 MB bodies
def test_analysis_batch_as_large_as_6_mb_allows_is_accepted(api, tokens):
    results = [compact_issue(n + 1) for n in range(30_000)]
    body = [b.issues("eslint", {"a": results})]
    assert 4_000_000 < len(json.dumps(body)) < 6_000_000
    status, answer = api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", tokens["project"], body=body)
    assert (status, answer) == (200, {"success": f"30000 issues results received for commit {COMMIT}"})


def test_analysis_batch_results_bounded_per_request(api, tokens, monkeypatch):
    import dataclasses

    from chalicelib.api.v2 import services

    monkeypatch.setattr(services(), "settings", dataclasses.replace(services().settings, max_analysis_results=1000))
    body = [b.issues("eslint", {"a": [compact_issue(n + 1) for n in range(1000)]})]
    assert api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", tokens["project"], body=body)[0] == 200
    body[0]["issues"]["Success"]["results"][0]["results"].append(compact_issue(1))
    status, answer = api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", tokens["project"], body=body)
    assert status == 413 and answer == {"error": "body: at most 1000 results per request"}


def test_analysis_cli_bodies_with_nulls_upload_and_read_back(api, tokens):
    """Bodies exactly as the Scala analysis CLI prints them (tests/upload_bodies.py
    cites its case classes): every Option present, as null when empty."""
    token = tokens["project"]
    issues = [
        b.cli_tool_results("eslint", {
            "src/a.js": [b.cli_issue("src/a.js", 3, category=None),
                         b.cli_issue("src/a.js", 4, level="Error", category="ErrorProne", column=7)],
            "src/b.js": [b.cli_file_error("src/b.js")],
        }),
        b.cli_tool_results("pmd", failure="pmd: timed out"),
    ]
    metrics = [b.cli_metrics("Javascript", {
        "src/a.js": {"loc": 12, "complexity": 2, "lineComplexities": [{"line": 3, "value": 2}]},
        "src/b.js": None,  # analysed, no metrics: "metrics": null
        "src/c.js": {"loc": 4},  # complexity, cloc, nrMethods, nrClasses: null
    })]
    duplication = [b.cli_duplication("Javascript", ["src/a.js", "src/c.js"],
                                     [(50, 4, [("src/a.js", 1, 4), ("src/c.js", 10, 13)])])]
    raw = json.dumps(metrics)
    assert '"metrics": null' in raw and '"cloc": null' in raw and '"category": null' in json.dumps(issues)
    for route, body in (("issuesRemoteResults", issues), ("metricsRemoteResults", metrics),
                        ("duplicationRemoteResults", duplication)):
        status, answer = api.post(f"/2.0/commit/{COMMIT}/{route}", token, body=body)
        assert status == 200, answer
    assert api.post(f"/2.0/commit/{COMMIT}/resultsFinal", token)[0] == 200
    data = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), tokens["reader"])[1]["data"]
    assert data["resultsFinal"] is True
    assert data["issues"]["byTool"] == {
        "eslint": {"issues": 2, "byLevel": {"Error": 1, "Info": 1}, "fileErrors": 1},
        "pmd": {"issues": 0, "byLevel": {}, "fileErrors": 0}}
    assert data["fileErrors"]["items"] == [
        {"tool": "eslint", "filename": "src/b.js", "message": "Could not parse file"}]
    assert data["toolFailures"] == [{"tool": "pmd", "message": "pmd: timed out"}]
    assert data["metrics"]["byLanguage"] == {"Javascript": {
        "files": 3, "complexity": 2, "loc": 16, "cloc": 0, "nrMethods": 0, "nrClasses": 0}}
    assert data["duplication"]["total"] == {"clones": 1, "duplicatedLines": 4, "duplicatedTokens": 50,
                                            "analysedFiles": 2}


@pytest.mark.parametrize("route,body", [
    # A sealed trait's case beside a null sibling, a null optional list:
    ("issuesRemoteResults", [{"tool": "x", "issues": {"Success": {"results": [
        {"filename": "a.js", "results": [{"Issue": {**b.cli_issue("a.js", 1)["Issue"],
                                                    "location": {"LineLocation": {"line": 1}, "FullLocation": None}}},
                                         {"FileError": {"filename": "a.js", "message": None}, "Issue": None}]}]},
        "Failure": None}}]),
    ("metricsRemoteResults", [{"language": "go", "metrics": {"Success": {"results": [
        {"file": None, "filename": "a.go", "metrics": {"loc": None, "lineComplexities": None}}]}}}]),
    ("duplicationRemoteResults", [{"language": "go", "duplication": {"Success": {
        "analysedFiles": None, "results": []}}}]),
])
def test_null_means_absent_at_every_level(api, tokens, route, body):
    status, answer = api.post(f"/2.0/commit/{COMMIT}/{route}", tokens["project"], body=body)
    assert status == 200, answer


def test_coverage_nulls_mean_absent(api, tokens):
    body = {"fileReports": [{"filename": "a.py", "coverage": {"1": 1}, "total": None, "codeLines": None},
                            {"filename": "b.py", "coverage": None}],
            "total": None, "codeLines": None, "language": None}
    assert api.post(f"/2.0/coverage/{COMMIT}/python", tokens["project"], body=body)[0] == 200
    assert {f["filename"]: f["coverable"] for f in coverage_of(api, tokens["project"])["files"]} == {
        "a.py": 1, "b.py": 0}


def test_file_names_read_back_repository_relative_and_merged(api, tokens):
    token = tokens["project"]
    api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token,
             body=b.coverage({"/src/a.py": {1: 1, 2: 0}, ".\\src\\b.py": {1: 0}}))
    api.post(f"/2.0/coverage/{COMMIT}/python?partial=true", token, body=b.coverage({"./src/a.py": {2: 4}}))
    assert [(f["filename"], f["covered"], f["coverable"]) for f in coverage_of(api, token)["files"]] == [
        ("src/a.py", 2, 2), ("src/b.py", 0, 1)]
    body = [b.issues(files={"/src/a.js": [b.file_error("\\src\\a.js")]})]
    assert api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", token, body=body)[0] == 200
    data = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), token)[1]["data"]
    assert [e["filename"] for e in data["fileErrors"]["items"]] == ["src/a.js"]


# -- bad input -----------------------------------------------------------------

def error_of(api, path, token, body=None, raw=None):
    status, answer = api.post(path, token, body=raw if raw is not None else body)
    return status, answer["error"]


@pytest.mark.parametrize("commit", ["abc", "g" * 40, "0" * 41, "0" * 39])
def test_bad_commit_is_400(api, tokens, commit):
    status, error = error_of(api, f"/2.0/coverage/{commit}/python", tokens["project"], COVERAGE_BODY)
    assert (status, error) == (400, "commit: must be a 40-character hexadecimal commit SHA")


@pytest.mark.parametrize("language", ["%20", "%20%20"])
def test_empty_language_is_400(api, tokens, language):
    status, error = error_of(api, f"/2.0/coverage/{COMMIT}/{language}", tokens["project"], COVERAGE_BODY)
    assert (status, error) == (400, "language: must not be empty")


@pytest.mark.parametrize("body,expected", [
    ([], "body: must be an object"),
    ({}, "fileReports: must be a list"),
    ({"fileReports": [{"filename": "//etc/passwd", "coverage": {}}]},
     "fileReports[0].filename: must not have empty or '.' segments, got '//etc/passwd'"),
    ({"fileReports": [{"filename": "src/./x.py", "coverage": {}}]},
     "fileReports[0].filename: must not have empty or '.' segments, got 'src/./x.py'"),
    ({"fileReports": [{"filename": "src/x.py\x00", "coverage": {}}]},
     "fileReports[0].filename: must not contain NUL"),
    ({"fileReports": [{"filename": "C:\\x.py", "coverage": {}}]},
     "fileReports[0].filename: must be relative to the repository, got 'C:\\\\x.py'"),
    ({"fileReports": [{"filename": "src/../../x.py", "coverage": {}}]},
     "fileReports[0].filename: must not contain '..', got 'src/../../x.py'"),
    ({"fileReports": [{"filename": "", "coverage": {}}]}, "fileReports[0].filename: must be a non-empty string"),
    ({"fileReports": [{"filename": "a.py", "coverage": {"1": -1}}]},
     'fileReports[0].coverage["1"]: hit count must be a non-negative integer'),
    ({"fileReports": [{"filename": "a.py", "coverage": {"1": 1.5}}]},
     'fileReports[0].coverage["1"]: hit count must be a non-negative integer'),
    ({"fileReports": [{"filename": "a.py", "coverage": {"x": 1}}]},
     'fileReports[0].coverage["x"]: line must be a positive integer'),
    ({"fileReports": [{"filename": "a.py", "coverage": [1]}]},
     'fileReports[0].coverage: must be an object {"<line>": hits}'),
])
def test_bad_coverage_body_is_400(api, tokens, body, expected):
    assert error_of(api, f"/2.0/coverage/{COMMIT}/python", tokens["project"], body) == (400, expected)


@pytest.mark.parametrize("raw,expected", [
    (b"{not json", "body: not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "body: nested too deeply"),
    (b"", "body: must be an object"),
])
def test_unparseable_body_is_400(api, tokens, raw, expected):
    assert error_of(api, f"/2.0/coverage/{COMMIT}/python", tokens["project"], raw=raw) == (400, expected)


SIZE_ERROR = ("body: larger than 6000000 bytes as Lambda receives it (a JSON string: each \" and \\ counts "
              "twice); Lambda's request limit is 6 MB. Split the upload: coverage with partial=true, "
              "analysis results in smaller batches")


@pytest.mark.parametrize("route", ["/2.0/coverage/{c}/python", "/2.0/commit/{c}/issuesRemoteResults",
                                   "/2.0/commit/{c}/coverageFinal", "/2.0/commit/{c}/resultsFinal"])
def test_body_over_6_mb_is_a_json_413_and_stores_nothing(api, tokens, route):
    raw = json.dumps({"fileReports": [], "pad": "x" * 6_000_000}).encode()
    status, error = error_of(api, route.format(c=COMMIT), tokens["project"], raw=raw)
    assert (status, error) == (413, SIZE_ERROR)
    assert coverage_of(api, tokens["project"])["reports"] == []


@pytest.mark.slow  # 6 MB bodies
def test_body_under_6_mb_that_lambda_would_see_over_it_is_413(api, tokens):
    # 5.4 MB of bytes, but every line entry's quotes are escaped in Lambda's
    # event: past 6,000,000 there, which deployed Lambda would refuse.
    body = b.coverage({"a.py": dict.fromkeys(range(1, 500000), 1)})
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) < 6_000_000
    assert error_of(api, f"/2.0/coverage/{COMMIT}/python", tokens["project"], raw=raw) == (413, SIZE_ERROR)


@pytest.mark.slow  # 6 MB bodies
def test_body_of_6_mb_as_lambda_sees_it_is_accepted(api, tokens):
    from chalicelib.api.v2 import event_bytes

    body = json.dumps(b.coverage({"a.py": dict.fromkeys(range(1, 465000), 1)}), separators=(",", ":")).encode()
    assert 5_500_000 < event_bytes(body) <= 6_000_000
    status, _ = api.post(f"/2.0/coverage/{COMMIT}/python", tokens["project"], body=body)
    assert status == 200


def test_bad_partial_flag_is_400(api, tokens):
    status, error = error_of(api, f"/2.0/coverage/{COMMIT}/python?partial=yes", tokens["project"], COVERAGE_BODY)
    assert (status, error) == (400, "partial: must be true or false")


@pytest.mark.parametrize("route,body,expected", [
    ("issuesRemoteResults", {}, "body: must be a list"),
    ("issuesRemoteResults", [{"tool": "x", "issues": {}}],
     '[0].issues: must be {"Success": {...}} or {"Failure": {"message": ...}}'),
    ("issuesRemoteResults", [b.issues(files={"a.js": [{"Oops": {}}]})],
     '[0].issues.Success.results[0].results[0]: must be {"Issue": {...}} or {"FileError": {...}}'),
    ("issuesRemoteResults", [b.issues(files={"a.js": [b.issue(line=0)]})],
     "[0].issues.Success.results[0].results[0].Issue.location.LineLocation.line: must be a positive integer"),
    ("issuesRemoteResults", [b.issues(files={"../a.js": [b.issue()]})],
     "[0].issues.Success.results[0].filename: must not contain '..', got '../a.js'"),
    ("issuesRemoteResults", [b.issues(files={"a.js": [b.file_error("C:\\abs.js")]})],
     "[0].issues.Success.results[0].results[0].FileError.filename: must be relative to the repository, "
     "got 'C:\\\\abs.js'"),
    ("metricsRemoteResults", [b.metrics(files={"a.js": {"loc": -1}})],
     "[0].metrics.Success.results[0].metrics.loc: loc must be a non-negative integer"),
    ("duplicationRemoteResults", [b.duplication(clones=[(-1, 2)])],
     "[0].duplication.Success.results[0].nrTokens: nrTokens must be a non-negative integer"),
    ("duplicationRemoteResults", [b.duplication(analysed=["x.js/"])],
     "[0].duplication.Success.analysedFiles[0]: must not have empty or '.' segments, got 'x.js/'"),
])
def test_bad_analysis_body_is_400(api, tokens, route, body, expected):
    assert error_of(api, f"/2.0/commit/{COMMIT}/{route}", tokens["project"], body) == (400, expected)


def test_rejected_upload_stores_nothing(api, tokens):
    bad = {"fileReports": [{"filename": "../abs", "coverage": {}}]}
    assert api.post(f"/2.0/coverage/{COMMIT}/python", tokens["project"], body=bad)[0] == 400
    assert coverage_of(api, tokens["project"])["reports"] == []


@pytest.mark.parametrize("setting, value, name", [
    ("max_analysis_results_per_commit", 3, "MAX_ANALYSIS_RESULTS_PER_COMMIT"),
    ("max_analysis_bytes_per_commit", 600, "MAX_ANALYSIS_BYTES_PER_COMMIT"),
    ("max_analysis_files_per_commit", 2, "MAX_ANALYSIS_FILES_PER_COMMIT"),
])
def test_analysis_per_commit_bounds_are_a_json_413_naming_them_and_store_nothing(api, tokens, monkeypatch,
                                                                                setting, value, name):
    import dataclasses

    from chalicelib.api.v2 import services

    monkeypatch.setattr(services(), "settings", dataclasses.replace(services().settings, **{setting: value}))
    path = f"/2.0/commit/{COMMIT}/issuesRemoteResults"
    first = [b.issues("eslint", {"src/a.js": [b.issue(), b.issue("src/b.js")]})]
    assert api.post(path, tokens["project"], body=first)[0] == 200
    before = api.get(READ_BACK.format(commit=COMMIT, what="analysis"), tokens["reader"])[1]
    second = [b.issues("eslint", {"src/c.js": [b.issue("src/c.js"), b.issue("src/c.js")]})]
    status, answer = api.post(path, tokens["project"], body=second)
    assert status == 413 and name in answer["error"] and "nothing was stored" in answer["error"]
    assert api.get(READ_BACK.format(commit=COMMIT, what="analysis"), tokens["reader"])[1] == before
