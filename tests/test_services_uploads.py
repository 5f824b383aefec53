"""The upload bodies and their summaries (chalicelib.payloads) and the
UploadService's access rules, without HTTP."""
import pytest

from chalicelib.access import Principal
from chalicelib.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from chalicelib.payloads import analysis, checks, coverage
from chalicelib.repository_ref import RepositoryRef
from chalicelib.token_format import Kind
from tests import upload_bodies as b
from tests.upload_bodies import COMMIT


@pytest.mark.parametrize("raw,expected", [
    ("python", "python"), ("Python", "python"), ("visual%20basic", "visual basic"),
    ("visual basic", "visual basic"), ("  go ", "go"), ("c%23", "c#"),
])
def test_language_name_normalizes(raw, expected):
    assert checks.language_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "%20", "a%2Fb", "x" * 65])
def test_language_name_rejects(raw):
    with pytest.raises(BadRequest):
        checks.language_name(raw)


def test_commit_id_lowercases():
    assert checks.commit_id(COMMIT.upper()) == COMMIT


@pytest.mark.parametrize("name", [
    "C:/a", "C:\\a", "c:a", "a/../b", "..", "a\\..\\b", "../a", "", "  ", "a\x00b",
    "a/./b", "./", "/", "//a", "a//b", "a/", "./../a", "/./a", "/ ", "./  ", None, 3,
])
def test_file_name_rejects(name):
    with pytest.raises(BadRequest):
        checks.file_name(name, "filename")


@pytest.mark.parametrize("name,expected", [
    ("a.py", "a.py"), ("src/a..b.py", "src/a..b.py"), (".hidden/x", ".hidden/x"),
    # The forms real clients send (codacy-compat.md): a leading "/" (PyPI
    # reporter, <source> at the git top level), a leading "./", backslashes.
    ("/src/a.py", "src/a.py"), ("./src/a.py", "src/a.py"), ("src\\a.py", "src/a.py"),
    ("\\src\\a.py", "src/a.py"), (".\\src\\a.py", "src/a.py"), ("/etc/passwd", "etc/passwd"),
])
def test_file_name_normalises_to_repository_relative(name, expected):
    assert checks.file_name(name, "filename") == expected


def test_two_spellings_of_one_file_merge_into_one_entry():
    body = {"fileReports": [{"filename": "/src/a.py", "coverage": {"1": 1, "2": 0}},
                            {"filename": "./src/a.py", "coverage": {"2": 3}},
                            {"filename": "src\\a.py", "coverage": {"3": 0}}]}
    assert coverage.report(body) == {"src/a.py": {1: 1, 2: 3, 3: 0}}


def test_coverage_report_adds_hits_of_a_file_listed_twice():
    body = {"fileReports": [{"filename": "a", "coverage": {"1": 1, "2": 0}},
                            {"filename": "a", "coverage": {"2": 3}}]}
    assert coverage.report(body) == {"a": {1: 1, 2: 3}}


def test_coverage_report_accepts_missing_coverage():
    assert coverage.report({"fileReports": [{"filename": "a"}]}) == {"a": {}}


@pytest.mark.parametrize("hits", [True, "1", None, -3])
def test_coverage_report_rejects_bad_hits(hits):
    with pytest.raises(BadRequest, match="hit count must be a non-negative integer"):
        coverage.report({"fileReports": [{"filename": "a", "coverage": {"1": hits}}]})


def test_reports_of_one_commit_count_each_line_once():
    merged = coverage.bitsets({"a": {1: 0, 2: 1}})
    coverage.merge(merged, coverage.bitsets({"a": {1: 2}, "b": {1: 0}}))
    assert coverage.totals(merged) == {"files": 2, "covered": 2, "coverable": 3, "percentage": 66.67}


def test_percentage_of_nothing_is_none():
    assert list(coverage.rows(coverage.bitsets({"empty.py": {}}))) == [
        {"filename": "empty.py", "covered": 0, "coverable": 0, "percentage": None}]


def test_coverage_state_round_trips_through_its_stored_bytes():
    state = coverage.bitsets({"a.py": {1: 1, 9: 0, 100_000: 3}, "dir/é.py": {2: 0}, "empty.py": {}})
    assert coverage.decode(coverage.encode(state)) == state
    assert coverage.line_span(state) == coverage.line_span({"a.py": {100_000: 1}, "dir/é.py": {2: 0}})


@pytest.mark.parametrize("kind, body, section, expected", [
    ("issues", [b.issues("eslint", {"a.js": [b.issue(level="Warning"), b.issue(level="Error")]})],
     "issues", {"total": 2, "byLevel": {"Error": 1, "Warning": 1},
                "byTool": {"eslint": {"issues": 2, "byLevel": {"Warning": 1, "Error": 1}, "fileErrors": 0}}}),
    ("metrics", [b.metrics("js", {"a.js": {"loc": 3, "complexity": 2}}), b.metrics("go", failure="boom")],
     "metrics", {"total": {"files": 1, "complexity": 2, "loc": 3, "cloc": 0, "nrMethods": 0, "nrClasses": 0},
                 "byLanguage": {"go": {"files": 0, "complexity": 0, "loc": 0, "cloc": 0, "nrMethods": 0,
                                       "nrClasses": 0},
                                "js": {"files": 1, "complexity": 2, "loc": 3, "cloc": 0, "nrMethods": 0,
                                       "nrClasses": 0}},
                 "failures": [{"language": "go", "message": "boom"}]}),
    ("duplication", [b.duplication("js", clones=[(10, 3)])],
     "duplication", {"total": {"clones": 1, "duplicatedLines": 3, "duplicatedTokens": 10, "analysedFiles": 2},
                     "byLanguage": {"js": {"clones": 1, "duplicatedLines": 3, "duplicatedTokens": 10,
                                           "analysedFiles": 2}},
                     "failures": []}),
])
def test_each_analysis_kind_validates_folds_and_renders(kind, body, section, expected):
    state = analysis.empty_state()
    for _ in range(2):  # two batches add up
        analysis.FORMATS[kind].fold(state, analysis.FORMATS[kind].validate(body, 10))
    doubled = _doubled(expected)
    assert analysis.render(state)[section] == doubled


def _doubled(value):
    """Every count of a rendered section, twice (failures are kept, not counted)."""
    if isinstance(value, dict):
        return {key: _doubled(item) for key, item in value.items()}
    if isinstance(value, list):
        return value * 2
    return value * 2 if isinstance(value, int) else value


def test_validate_issues_counts_failures_and_file_errors():
    body = [b.issues("eslint", {"a.js": [b.issue(level="Warning"), b.file_error("a.js")]}),
            {"tool": "eslint", "issues": {"Success": {"results": [b.file_error("b.js")]}}},
            b.issues("pmd", failure={"text": "boom"})]
    summary = analysis.validate_issues(body, 10)
    assert summary["tools"] == {
        "eslint": {"issues": 1, "byLevel": {"Warning": 1}, "fileErrors": 2},
        "pmd": {"issues": 0, "byLevel": {}, "fileErrors": 0},
    }
    assert summary["failures"] == [{"tool": "pmd", "message": "boom"}]
    assert summary["results"] == 3


def test_validate_issues_over_budget_is_413():
    body = [b.issues("eslint", {"a.js": [b.issue(), b.issue()], "b.js": [b.issue()]})]
    with pytest.raises(PayloadTooLarge):
        analysis.validate_issues(body, 2)


def test_validate_metrics_accepts_filename_spelling():
    body = [{"language": "js", "metrics": {"Success": {"results": [{"filename": "a.js", "metrics": {"loc": 3}}]}}}]
    assert analysis.validate_metrics(body, 10)["languages"]["js"]["loc"] == 3


def test_duplication_end_before_start_is_400():
    body = b.duplication(clones=[(10, 3)])
    body["duplication"]["Success"]["results"][0]["files"][0]["endLine"] = 0
    with pytest.raises(BadRequest):
        analysis.validate_duplication([body], 10)


# -- access ----------------------------------------------------------------------

@pytest.fixture
def service(make, root):
    make.repo("gh/acme/widgets")
    return root.uploads


def project(repo="gh/acme/widgets") -> Principal:
    """A project principal of the live repository `repo` (name and id)."""
    from chalicelib.store.directory import DirectoryStore

    live = DirectoryStore().repository(RepositoryRef.parse(repo))
    return Principal(Kind.PROJECT, 1, repository=RepositoryRef.parse(repo, int(live.repository_id) if live else 1))


def test_project_token_repository_comes_from_token(service):
    assert service.repository(project(), None, action=_upload()).full_name == "gh/acme/widgets"


def test_project_token_of_deleted_repository_is_not_found(service):
    with pytest.raises(NotFound):
        service.repository(project("gh/acme/gone"), None, action=_upload())


def test_project_token_of_a_predecessor_of_the_same_name_is_not_found(service, make):
    old = project()
    make.admin.delete_repository(RepositoryRef("gh", "acme", "widgets"))
    make.repo("gh/acme/widgets")
    with pytest.raises(NotFound):
        service.repository(old, None, action=_upload())
    assert service.repository(project(), None, action=_upload()).full_name == "gh/acme/widgets"


def test_project_token_without_a_repository_id_is_not_found(service):
    with pytest.raises(NotFound):
        idless = Principal(Kind.PROJECT, 1, repository=RepositoryRef("gh", "acme", "widgets"))  # no id
        service.repository(idless, None, action=_upload())


def test_account_token_needs_repository_path(service, make):
    writer = make.user("w@example.com").grant("gh/acme/widgets", "write")
    with pytest.raises(Forbidden):
        service.repository(writer.principal(), None, action=_upload())
    widgets = RepositoryRef.parse("gh/acme/widgets")
    assert service.repository(writer.principal(), widgets, _upload()).full_name == "gh/acme/widgets"


def _upload():
    from chalicelib.access import Action

    return Action.UPLOAD



def _issues_batch(tool="eslint", level="Info", message="m", count=1):
    issue = {"Issue": {"patternId": {"value": "p"}, "filename": "f.js", "message": {"text": "x"},
                       "level": level, "location": {"LineLocation": {"line": 1}}}}
    error = {"FileError": {"filename": "f.js", "message": message}}
    return [{"tool": tool, "issues": {"Success": {"results": [
        {"filename": "f.js", "results": [issue] * count}, error]}}}]


def test_issues_summary_keeps_messages_short():
    summary = analysis.validate_issues(_issues_batch(message="x" * 500_000), 50_000)
    assert len(summary["fileErrors"][0]["message"]) == checks.MAX_KEPT_MESSAGE_CHARS


@pytest.mark.parametrize("batch, field", [
    (_issues_batch(tool="t" * 101), "[0].tool"),
    (_issues_batch(level="L" * 101), "[0].issues.Success.results[0].results[0].Issue.level"),
    ([b for i in range(51) for b in _issues_batch(tool=f"tool{i}")], "[50].tool"),
    ([{"language": f"l{i}", "metrics": {"Failure": {"message": "m"}}} for i in range(51)], "[50].language"),
])
def test_summaries_refuse_unbounded_names(batch, field):
    validator = analysis.validate_metrics if "metrics" in str(batch[0]) else analysis.validate_issues
    with pytest.raises(BadRequest, match=field.replace("[", r"\[").replace("]", r"\]")):
        validator(batch, 50_000)


def test_issue_levels_bounded_per_tool():
    batch = [{"tool": "t", "issues": {"Success": {"results": [{"filename": "f.js", "results": [
        {"Issue": {"patternId": {"value": "p"}, "filename": "f.js", "message": "x", "level": f"L{i}",
                   "location": {"LineLocation": {"line": 1}}}} for i in range(11)]}]}}}]
    with pytest.raises(BadRequest, match="at most 10 distinct"):
        analysis.validate_issues(batch, 50_000)
