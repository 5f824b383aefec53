"""`make run` end to end: real HTTP against the local server and its
embedded AWS endpoint, including a restart."""
import pytest

from tests.localserver import LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = "/api/v3/organizations/gh/demo/repositories/hello"


@pytest.fixture
def server(tmp_path):
    running = LocalServer(tmp_path / "state.json").start()
    yield running
    running.stop()


def test_local_server_seeds_demo_and_accepts_all_four_header_spellings(server):
    account, project = server.token("account"), server.token("project")
    assert account.startswith("lka_") and project.startswith("lkp_")
    for header, token in [("api-token", account), ("api_token", account),
                          ("project-token", project), ("project_token", project)]:
        response = server.request("GET", REPO, headers={header: token})
        assert response.status_code == 200, (header, response.text)
        assert response.json()["data"]["fullPath"] == "demo/hello"
    both = server.request("GET", REPO, headers={"project-token": project, "project_token": project})
    assert both.status_code == 200


def test_local_server_answers_like_the_gateway(server):
    assert server.request("GET", REPO).status_code == 401
    response = server.request("GET", REPO, headers={"api-token": "lka_nope"})
    assert (response.status_code, response.text) == (404, '{"error":"not found"}')
    assert response.headers["Content-Type"] == "application/json"


def test_local_server_keeps_tokens_across_restart(tmp_path):
    first = LocalServer(tmp_path / "state.json").start()
    try:
        account = first.token("account")
        headers = {"api-token": account}
        kept = first.request("POST", "/api/v3/user/tokens", headers=headers, json={"name": "kept"}).json()
        revoked = first.request("POST", "/api/v3/user/tokens", headers=headers, json={"name": "revoked"}).json()
        assert first.request("DELETE", f"/api/v3/user/tokens/{revoked['id']}", headers=headers).status_code == 204
    finally:
        first.stop()
    second = LocalServer(tmp_path / "state.json").start()
    try:
        assert "already present" in second.output and second.token("account") is None
        assert second.request("GET", "/api/v3/user", headers={"api-token": kept["token"]}).status_code == 200
        gone = second.request("GET", "/api/v3/user", headers={"api-token": revoked["token"]})
        assert (gone.status_code, gone.json()) == (404, {"error": "not found"})
        names = [t["name"] for t in second.request("GET", "/api/v3/user/tokens", headers=headers).json()["data"]]
        assert sorted(names) == ["demo", "kept"]
    finally:
        second.stop()
