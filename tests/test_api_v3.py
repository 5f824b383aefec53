"""End to end through chalice.test.Client: the authorizer, the routes, the tables."""
import pytest

NOT_FOUND = (404, {"error": "not found"})


def test_create_use_revoke_account_token(api, make):
    alice = make.user()
    token = alice.token()
    status, created = api.post("/api/v3/user/tokens", token, body={"name": "ci"})
    assert status == 200
    assert created["token"].startswith("lka_") and created["name"] == "ci"
    assert api.get("/api/v3/user", created["token"])[0] == 200
    status, body = api.delete(f"/api/v3/user/tokens/{created['id']}", token)
    assert (status, body) == (204, None)
    assert api.get("/api/v3/user", created["token"]) == NOT_FOUND


def test_no_token_is_401(api, aws):
    status, body = api.get("/api/v3/user")
    assert status == 401 and "error" in body


@pytest.mark.parametrize("header", ["api-token", "api_token"])
def test_account_token_header_spellings(api, make, header):
    token = make.user().token()
    status, body = api.get("/api/v3/user", token, header=header)
    assert status == 200
    assert body["data"]["mainEmail"] == "alice@example.com"
