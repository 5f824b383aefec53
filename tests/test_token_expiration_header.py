"""`Latchkey-Token-Expiration` (GitHub's `GitHub-Authentication-Token-Expiration`
format) on every answer authorized by a token that has an expiry, at no
extra storage call: the authorizer's one read already holds the expiry."""
import re
from datetime import datetime, timedelta, timezone

from bench.calls import count_calls
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings

HEADER = "Latchkey-Token-Expiration"
REPO = "/api/v3/organizations/gh/acme/repositories/widgets"
FORMAT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def expiring(days=30):
    moment = (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)
    return moment, moment.isoformat()


def test_the_header_names_the_expiry_on_success_and_on_route_denials(client, make):
    moment, iso = expiring()
    make.repo()
    token = make.user().grant("gh/acme/widgets", "read").token(expires_at=iso)
    expected = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    for path, status in (("/api/v3/user", 200), (REPO, 200), (REPO + "/tokens", 403),
                         ("/api/v3/organizations/gh/nope/repositories/x", 404)):
        response = client.http.get(path, headers={"api-token": token})
        assert response.status_code == status, path
        assert response.headers[HEADER] == expected and FORMAT.fullmatch(expected), path


def test_project_tokens_and_uploads_carry_it_too(client, make):
    moment, iso = expiring(7)
    make.repo()
    owner = make.user("owner@example.com").grant("gh/acme/widgets", "admin")
    widgets = RepositoryRef("gh", "acme", "widgets")
    project = make.admin.tokens.create_project_token(owner.principal(), widgets, expires_at=iso).value
    response = client.http.request("POST", "/2.0/coverage/" + "a" * 40 + "/python", headers={
        "project-token": project, "content-type": "application/json"},
        body=b'{"fileReports": [{"filename": "a.py", "coverage": {"1": 1}}]}')
    assert response.status_code == 200
    assert response.headers[HEADER] == moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def test_no_header_for_tokens_without_expiry_or_without_token(client, make):
    token = make.user().token()
    assert HEADER not in client.http.get("/api/v3/user", headers={"api-token": token}).headers
    assert HEADER not in client.http.get("/api/v3/user").headers
    assert HEADER not in client.http.get("/openapi.json").headers


def test_an_expired_token_is_told_when_it_expired(client, make):
    from chalicelib import token_format
    from chalicelib.models.tokens import Token

    token = make.user().token()
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)
    Token.get(token_format.digest(token)).update(actions=[Token.expires_at.set(past)])
    response = client.http.get("/api/v3/user", headers={"api-token": token})
    assert response.status_code == 401
    assert response.headers[HEADER] == past.strftime("%Y-%m-%d %H:%M:%S UTC")


def test_the_header_costs_no_storage_call(client, make):
    _, iso = expiring()
    token = make.user().token(expires_at=iso)
    client.http.get("/api/v3/user", headers={"api-token": token})  # first use writes lastUsedAt
    with count_calls() as calls:
        response = client.http.get("/api/v3/user", headers={"api-token": token})
    assert HEADER in response.headers
    tokens, directory = get_settings().tokens_table, get_settings().directory_table
    assert calls.summary() == {f"dynamodb.GetItem({tokens})": 1, f"dynamodb.GetItem({directory})": 1}
