"""Issue 12: one name rule (chalicelib/names.py) for what the CLI creates and
what the API serves, and no dot segment ever reaches a key."""
import os

import pytest
from click.testing import CliRunner

from chalicelib import names
from chalicelib.repository_ref import RepositoryRef

SERVED = ["acme", "widgets", "a.b", "_x", "-x", ".github", "my_repo-2", "x" * 100, "A1"]
REFUSED = ["bad name!", "x y", ".", "..", "x" * 101, "", "ü", "a/b", "a#b", "a%20b", "a\tb", "~x"]


@pytest.mark.parametrize("value", SERVED)
def test_names_rule_accepts(value):
    assert names.is_name(value)


@pytest.mark.parametrize("value", REFUSED)
def test_names_rule_refuses(value):
    assert not names.is_name(value)


@pytest.fixture
def cli(aws, monkeypatch):
    import manage

    monkeypatch.setattr("scripts.stage_env.configure", lambda stage, local: None)
    runner = CliRunner()
    return lambda *args: runner.invoke(manage.cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("value", REFUSED)
def test_names_cli_refuses_what_the_api_cannot_serve(cli, value):
    result = cli("create-org", "gh", value)
    assert result.exit_code != 0 and "org:" in result.output
    assert cli("create-org", "gh", "acme").exit_code == 0
    result = cli("create-repo", "gh", "acme", value)
    assert result.exit_code != 0 and "repo:" in result.output


@pytest.mark.parametrize("value", [".github", "a.b", "_x", "my_repo-2", "x" * 100])
def test_names_what_the_cli_creates_the_api_serves(cli, api, make, value):
    assert cli("create-org", "gh", value).exit_code == 0
    assert cli("create-repo", "gh", value, value).exit_code == 0
    user = make.user()
    user.grant(f"gh/{value}/{value}", "read")
    status, body = api.get(f"/api/v3/organizations/gh/{value}/repositories/{value}", user.token())
    assert status == 200 and body["data"]["name"] == value


def test_names_outside_the_rule_are_404_without_a_read(api, make, faults):
    token = make.user().token()
    api.get("/api/v3/user", token)  # the first use writes "last used"
    for org, repo in [("bad%20name!", "x"), ("acme", "x%20y"), ("..", "x"), ("acme", ".")]:
        faults.reset()
        assert api.get(f"/api/v3/organizations/gh/{org}/repositories/{repo}", token) == (404, {"error": "not found"})
        reads = [op for op in faults.ops() if op.split(".")[1] in ("GetItem", "BatchGetItem", "Query")]
        assert reads == ["dynamodb.GetItem"]  # the authorizer's one read only


@pytest.mark.parametrize("language", [".", "..", "%2E", "%2e%2E", " .. "])
def test_names_dot_segment_languages_are_refused(api, make, language):
    make.repo()
    token = make.project_token()
    commit = os.urandom(20).hex()
    status, body = api.post(f"/2.0/coverage/{commit}/{language}", token,
                            body={"fileReports": [{"filename": "a.py", "coverage": {"1": 1}}]})
    assert (status, body["error"]) == (400, "language: must not be '.' or '..'")


@pytest.mark.parametrize("parts", [("..", "coverage", "python"), (".", "coverage", "python"),
                                   ("0" * 40, "coverage", ".."), ("0" * 40, ".", "python"), ("0" * 40, "", "x")])
def test_names_no_dot_segment_reaches_an_s3_key(parts):
    """Keys hold the repository's id (issue 11), never its name; no other
    part may be a dot segment or empty, whatever a caller sent."""
    from chalicelib.errors import BadRequest
    from chalicelib.store.uploads import object_key

    assert object_key(7, "0" * 40, "coverage", "python", "x.json").endswith("7/" + "0" * 40 + "/coverage/python/x.json")
    with pytest.raises(BadRequest):
        object_key(7, *parts, "x.json")


def test_names_admin_refuses_dot_segments(admin):
    from chalicelib.errors import BadRequest

    for org in (".", ".."):
        with pytest.raises(BadRequest):
            admin.create_organization("gh", org)
    admin.create_organization("gh", "acme")
    for repo in (".", ".."):
        with pytest.raises(BadRequest):
            admin.create_repository(RepositoryRef("gh", "acme", repo))
