"""The /2.0 route matrix: every upload route with both token kinds and every
header spelling the contract lists, plus the read-back routes.

One moto world for the whole module (users, repositories and tokens made
once); each test uploads to a commit of its own, so tests stay independent.
"""
import os

import pytest
from moto import mock_aws

from tests import upload_bodies as b
from tests.helpers import Api, Made

NOT_FOUND = (404, {"error": "not found"})
REPO = "gh/acme/widgets"
READ_BACK = "/api/v3/organizations/gh/acme/repositories/widgets/commits/{commit}/{what}"
ACCOUNT = "/2.0/gh/acme/widgets"

COVERAGE_BODY = b.coverage({"src/a.py": {1: 1, 2: 0}})
ISSUES_BODY = [b.issues(files={"src/a.js": [b.issue()]})]
METRICS_BODY = [b.metrics(files={"src/a.js": {"loc": 10, "cloc": 2, "complexity": 3}})]
DUPLICATION_BODY = [b.duplication(clones=[(40, 5)])]

# (method, path after the repository part, body)
ROUTES = [
    ("POST", "/commit/{c}/coverage/python", COVERAGE_BODY),
    ("POST", "/commit/{c}/coverage/python?partial=true", COVERAGE_BODY),
    ("POST", "/commit/{c}/coverageFinal", {}),
    ("POST", "/commit/{c}/issuesRemoteResults", ISSUES_BODY),
    ("POST", "/commit/{c}/metricsRemoteResults", METRICS_BODY),
    ("POST", "/commit/{c}/duplicationRemoteResults", DUPLICATION_BODY),
    ("POST", "/commit/{c}/resultsFinal", None),
    ("GET", "/analysis/configuration", None),
]


def project_path(path: str) -> str:
    """The project-token form of an account-route suffix."""
    if path.startswith("/commit/{c}/coverage/"):
        return "/2.0/coverage/{c}/" + path.rsplit("/", 1)[1]
    if path == "/analysis/configuration":
        return "/2.0/project/analysis/configuration"
    return "/2.0" + path


PROJECT_ROUTES = [(m, project_path(p), body) for m, p, body in ROUTES]
ACCOUNT_ROUTES = [(m, ACCOUNT + p, body) for m, p, body in ROUTES] + [
    ("POST", "/2.0/acme/widgets/commit/{c}/coverage/python", COVERAGE_BODY),  # old Node reporter
]


def assert_answer(method, status, body):
    assert status == 200, body
    if method == "POST":
        assert set(body) == {"success"} and isinstance(body["success"], str)
    else:
        assert body == {"ignoredPaths": [], "defaultIgnores": [], "projectExtensions": [], "toolConfiguration": []}


PROJECT_HEADERS = [("project-token",), ("project_token",), ("project-token", "project_token")]
ACCOUNT_HEADERS = [("api-token",), ("api_token",), ("api-token", "api_token")]


@pytest.fixture(scope="module")
def world():
    """(api, tokens by role) in one module-wide moto world."""
    from chalice.test import Client

    with mock_aws():
        from app import app
        from chalicelib.store.tables import ensure_tables
        from chalicelib.wiring import Root

        ensure_tables()
        make = Made(Root().admin)
        make.repo(REPO)
        make.repo("gh/acme/other")
        tokens = {
            "project": make.project_token(REPO),
            "other_project": make.project_token("gh/acme/other"),
            "writer": make.user("writer@example.com").grant(REPO, "write").token(),
            "reader": make.user("reader@example.com").grant(REPO, "read").token(),
            "admin": make.user("admin@example.com").grant("gh/acme", "admin").token(),
            "stranger": make.user("stranger@example.com").token(),
        }
        with Client(app, stage_name="dev") as client:
            yield Api(client), tokens


@pytest.fixture
def api(world):
    return world[0]


@pytest.fixture
def tokens(world):
    return world[1]


def send(api, method, path, token, names, body=None):
    """Send to a fresh commit: tests never see each other's uploads."""
    headers = dict.fromkeys(names, token) if token else {}
    return api.call(method, path.replace("{c}", os.urandom(20).hex()), headers=headers, body=body)


# -- every route, both token kinds, every header spelling ---------------------

@pytest.mark.parametrize("names", PROJECT_HEADERS, ids="+".join)
@pytest.mark.parametrize("method,path,body", PROJECT_ROUTES, ids=[p for _, p, _ in PROJECT_ROUTES])
def test_project_route_accepts_every_header_spelling(api, tokens, method, path, body, names):
    status, answer = send(api, method, path, tokens["project"], names, body)
    assert_answer(method, status, answer)


@pytest.mark.parametrize("names", ACCOUNT_HEADERS, ids="+".join)
@pytest.mark.parametrize("method,path,body", ACCOUNT_ROUTES, ids=[p for _, p, _ in ACCOUNT_ROUTES])
def test_account_route_accepts_every_header_spelling(api, tokens, method, path, body, names):
    status, answer = send(api, method, path, tokens["writer"], names, body)
    assert_answer(method, status, answer)


@pytest.mark.parametrize("method,path,body", PROJECT_ROUTES, ids=[p for _, p, _ in PROJECT_ROUTES])
def test_project_route_with_account_token_is_403(api, tokens, method, path, body):
    status, answer = send(api, method, path, tokens["writer"], ("api-token",), body)
    assert status == 403
    assert answer["error"].startswith("this path takes a project token")


@pytest.mark.parametrize("method,path,body", ACCOUNT_ROUTES, ids=[p for _, p, _ in ACCOUNT_ROUTES])
def test_account_route_with_project_token_is_403(api, tokens, method, path, body):
    status, answer = send(api, method, path, tokens["project"], ("project-token",), body)
    assert status == 403
    assert answer["error"].startswith("this path names a repository and takes an account token")


UPLOADS = [route for route in ACCOUNT_ROUTES if route[0] == "POST"]


@pytest.mark.parametrize("method,path,body", UPLOADS, ids=[p for _, p, _ in UPLOADS])
def test_account_route_without_write_role(api, tokens, method, path, body):
    status, answer = send(api, method, path, tokens["reader"], ("api-token",), body)
    assert status == 403 and "write" in answer["error"]
    assert send(api, method, path, tokens["stranger"], ("api-token",), body) == NOT_FOUND


def test_account_configuration_with_read_role(api, tokens):
    """Reading the analysis configuration is a read: `read` is enough."""
    status, answer = send(api, "GET", "/2.0/gh/acme/widgets/analysis/configuration", tokens["reader"], ("api-token",))
    assert_answer("GET", status, answer)
    assert send(api, "GET", "/2.0/gh/acme/widgets/analysis/configuration", tokens["stranger"],
                ("api-token",)) == NOT_FOUND


@pytest.mark.parametrize("method,path,body", PROJECT_ROUTES + ACCOUNT_ROUTES)
def test_upload_route_without_token_is_401(api, method, path, body):
    status, answer = send(api, method, path, None, (), body)
    assert status == 401 and "error" in answer


@pytest.mark.parametrize("token", ["lkp_" + "0" * 33, "not-a-token"])
def test_upload_with_unknown_token_is_not_found(api, tokens, token):
    assert send(api, "POST", "/2.0/coverage/{c}/python", token, ("project_token",), COVERAGE_BODY) == NOT_FOUND


def test_upload_with_two_different_tokens_is_400(api, tokens):
    status, answer = api.post(f"/2.0/coverage/{os.urandom(20).hex()}/python", body=COVERAGE_BODY,
                              headers={"project-token": tokens["project"], "project_token": tokens["other_project"]})
    assert status == 400 and "two different tokens" in answer["error"]


@pytest.mark.parametrize("what", ["coverage", "analysis"])
@pytest.mark.parametrize("who,names", [
    ("project", ("project-token",)), ("project", ("project_token",)), ("project", ("project-token", "project_token")),
    ("reader", ("api-token",)), ("reader", ("api_token",)), ("reader", ("api-token", "api_token")),
    ("writer", ("api-token",)), ("admin", ("api-token",)),
])
def test_read_back_allowed(api, tokens, what, who, names):
    status, answer = send(api, "GET", READ_BACK.format(commit="{c}", what=what), tokens[who], names)
    assert status == 200 and answer["data"]["reports" if what == "coverage" else "issuesByFile"] == []


@pytest.mark.parametrize("what", ["coverage", "analysis"])
@pytest.mark.parametrize("who", ["other_project", "stranger"])
def test_read_back_of_another_repository_is_not_found(api, tokens, what, who):
    path = READ_BACK.format(commit="{c}", what=what)
    assert send(api, "GET", path, tokens[who], ("api-token" if who == "stranger" else "project-token",)) == NOT_FOUND


