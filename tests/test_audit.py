"""The audit trail: every creation, deletion, expiry hit and denied use, on
record without the token, readable by the right people, newest first."""
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.models.audit import AuditEvent
from chalicelib.repository_ref import RepositoryRef
from chalicelib.wiring import Root
from tests.helpers import Clock

EVENTS = "/api/v3/user/tokens/events"
REPO = "/api/v3/organizations/gh/acme/repositories/widgets"
UA = {"user-agent": "codacy-coverage-reporter/14.0"}


def events(api, token, path=EVENTS, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = api.get(path + (f"?{qs}" if qs else ""), token)
    assert status == 200, body
    return body


def test_audit_account_token_create_and_delete_are_recorded(api, make):
    alice = make.user()
    token = alice.token()
    status, created = api.post("/api/v3/user/tokens", token, body={"name": "ci"}, headers=UA)
    assert status == 200
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token, headers=UA)[0] == 204
    body = events(api, token)
    actions = [(e["action"], e["tokenId"]) for e in body["data"]]
    # newest first; the operator's bootstrap token is on record too
    assert actions[:2] == [("token.deleted", created["id"]), ("token.created", created["id"])]
    assert actions[2][0] == "token.created" and body["data"][2]["actor"] == "operator"
    deleted = body["data"][0]
    assert deleted["actor"] == f"user:{alice.user_id}" and deleted["userId"] == alice.user_id
    assert deleted["tokenHint"] == created["hint"] and deleted["outcome"] == "success"
    assert deleted["userAgent"] == "codacy-coverage-reporter/14.0"
    assert deleted["sourceIp"]  # chalice's local gateway fills a source IP
    assert body["pagination"] == {"limit": 100}
    assert created["token"] not in str(body)


def test_audit_items_expire_after_retention(make, aws):
    make.user().token()
    (item,) = list(AuditEvent.scan())
    assert timedelta(0) <= timedelta(days=90) - (item.expires - item.at) < timedelta(seconds=1)
    from chalicelib.models.audit import AuditEvent as Model

    ttl = Model._get_connection().connection.client.describe_time_to_live(TableName=Model.Meta.table_name)
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}


def test_audit_project_token_in_repository_and_actor_streams(api, make):
    make.repo()
    admin = make.user().grant("gh/acme/widgets", "admin")
    token = admin.token()
    status, created = api.post(REPO + "/tokens", token, body={"name": "ci"})
    assert status == 201
    repo_events = events(api, token, REPO + "/tokens/events")["data"]
    assert [(e["action"], e["repository"]) for e in repo_events] == [("token.created", "gh/acme/widgets")]
    assert repo_events[0]["tokenId"] == created["data"]["id"]
    user_events = events(api, token)["data"]
    assert user_events[0]["id"] == repo_events[0]["id"]


def test_audit_repository_events_need_admin(api, make):
    make.repo()
    reader = make.user("reader@example.com").grant("gh/acme/widgets", "write").token()
    outsider = make.user("outsider@example.com").token()
    project = make.project_token()
    assert api.get(REPO + "/tokens/events", reader)[0] == 403
    assert api.get(REPO + "/tokens/events", outsider) == (404, {"error": "not found"})
    assert api.get(REPO + "/tokens/events", project)[0] == 403
    assert api.get(EVENTS, project)[0] == 403


def test_audit_denied_use_recorded_in_token_owners_stream(api, make):
    make.repo()
    make.repo("gh/acme/secret")
    bob = make.user("bob@example.com").grant("gh/acme/widgets", "read")
    token = bob.token()
    assert api.get("/api/v3/organizations/gh/acme/repositories/secret", token, headers=UA)[0] == 404
    assert api.post(REPO + "/tokens", token)[0] == 403
    denied = [e for e in events(api, token)["data"] if e["action"] == "token.denied"]
    assert [(e["status"], e["request"]) for e in denied] == [
        (403, "POST /api/v3/organizations/gh/acme/repositories/widgets/tokens"),
        (404, "GET /api/v3/organizations/gh/acme/repositories/secret"),
    ]
    assert denied[1]["userAgent"] == "codacy-coverage-reporter/14.0"
    assert denied[0]["tokenHint"] == token[:4] + "..." + token[-4:]
    # nothing was written into the trail of a repository bob cannot administer
    from chalicelib.models.audit import repository_stream
    from chalicelib.store.directory import DirectoryStore

    secret = DirectoryStore().repository(RepositoryRef("gh", "acme", "secret"))
    assert secret is not None and AuditEvent.count(repository_stream(secret.repository_id)) == 0


def test_audit_expired_hit_recorded(api, make):
    alice = make.user()
    token = alice.token()
    expiring = api.post("/api/v3/user/tokens", token, body={"expiresAt": (
        datetime.now(timezone.utc) + timedelta(days=1)).isoformat()})[1]
    from chalicelib import token_format
    from chalicelib.models.tokens import Token

    stored = Token.get(token_format.digest(expiring["token"]))
    stored.update(actions=[Token.expires_at.set(datetime.now(timezone.utc) - timedelta(seconds=1))])
    assert api.get("/api/v3/user", expiring["token"], headers=UA) == (401, {"error": "token expired"})
    latest = events(api, token)["data"][0]
    assert (latest["action"], latest["outcome"], latest["tokenId"]) == ("token.expired", "denied", expiring["id"])
    assert latest["userAgent"] == "codacy-coverage-reporter/14.0"


def test_audit_disabled_owner_use_recorded(api, make, admin):
    alice = make.user()
    token = alice.token()
    admin.disable_user(alice.email)
    assert api.get("/api/v3/user", token) == (404, {"error": "not found"})
    stream = [(e.action, e.reason) for e in AuditEvent.query(f"user#{alice.user_id}", scan_index_forward=False)]
    assert stream[:2] == [("token.denied", "owner disabled"), ("token.disabled", "owner disabled")]


def test_audit_unknown_or_malformed_token_writes_nothing(api, make, caplog):
    make.user()
    forged = "lka_" + "A" * 33
    with caplog.at_level("INFO", logger="chalicelib.authorizer"):
        assert api.get("/api/v3/user", forged)[0] == 404
        from chalicelib import token_format

        unknown = token_format.generate(token_format.Kind.ACCOUNT)
        assert api.get("/api/v3/user", unknown)[0] == 404
    assert AuditEvent.count("user#0") == 0
    assert sum(1 for e in AuditEvent.scan() if e.action != "token.created") == 0
    lines = [r.getMessage() for r in caplog.records if "token rejected" in r.getMessage()]
    assert [line.split(" ")[2] for line in lines] == ["reason=malformed", "reason=unknown"]
    assert not any(forged in line or unknown in line for line in lines)


def test_audit_paginates_newest_first(api, make):
    alice = make.user()
    token = alice.token()
    ids = [api.post("/api/v3/user/tokens", token)[1]["id"] for _ in range(4)]
    first = events(api, token, limit=2)
    assert [e["tokenId"] for e in first["data"]] == ids[::-1][:2]
    second = events(api, token, limit=2, cursor=first["pagination"]["cursor"])
    assert [e["tokenId"] for e in second["data"]] == ids[::-1][2:]
    third = events(api, token, limit=2, cursor=second["pagination"]["cursor"])
    assert len(third["data"]) == 1 and "cursor" not in third["pagination"]


def test_audit_cursor_of_another_stream_is_400(api, make):
    alice, bob = make.user(), make.user("bob@example.com")
    a, b = alice.token(), bob.token()
    for _ in range(2):
        api.post("/api/v3/user/tokens", b)
    cursor = events(api, b, limit=1)["pagination"]["cursor"]
    status, body = api.get(f"{EVENTS}?cursor={cursor}", a)
    assert (status, body["error"]) == (400, "cursor: not a cursor returned by this API")


def test_audit_write_failure_never_changes_a_denied_answer(api, make, monkeypatch):
    from chalicelib.store.audit import AuditStore

    make.repo()
    token = make.user().token()

    def broken(self, items):
        raise RuntimeError("audit table down")

    monkeypatch.setattr(AuditStore, "put", broken)
    assert api.get(REPO, token) == (404, {"error": "not found"})


def test_audit_adds_no_storage_call_to_authorized_or_forged_requests(api, make, faults):
    """Issue 6's budget: forged or malformed costs zero calls; an authorized
    request one read for the token (plus the route's own, here one GetItem)."""
    from chalicelib import token_format

    token = make.user().token()
    api.get("/api/v3/user", token)  # the first use writes "last used"
    faults.reset()
    assert api.get("/api/v3/user", token)[0] == 200
    assert faults.ops() == ["dynamodb.GetItem", "dynamodb.GetItem"]
    faults.reset()
    assert api.get("/api/v3/user", "lka_" + "A" * 33)[0] == 404
    assert api.get("/api/v3/user", "garbage")[0] == 404
    assert faults.ops() == []
    assert api.get("/api/v3/user", token_format.generate(token_format.Kind.ACCOUNT))[0] == 404
    assert faults.ops() == ["dynamodb.GetItem"]


# -- issue 12: refused uses are folded, free text is redacted ----------------

def _writes(faults) -> list[str]:
    return [op for op in faults.ops() if op.split(".")[1] in ("PutItem", "BatchWriteItem", "TransactWriteItems",
                                                               "UpdateItem", "DeleteItem")]


def _expire(token):
    from chalicelib import token_format
    from chalicelib.models.tokens import Token

    Token.get(token_format.digest(token)).update(
        actions=[Token.expires_at.set(datetime.now(timezone.utc) - timedelta(seconds=1))])


def test_audit_refused_uses_of_one_token_fold_into_one_event_per_interval(api, make, faults):
    """100 requests with an expired token: one audit write, one event on the trail."""
    alice = make.user()
    token = alice.token()
    expiring = api.post("/api/v3/user/tokens", token, body={"expiresAt": (
        datetime.now(timezone.utc) + timedelta(days=1)).isoformat()})[1]["token"]
    _expire(expiring)
    faults.reset()
    answers = {api.get("/api/v3/user", expiring)[0] for _ in range(100)}
    assert answers == {401}
    assert _writes(faults) == ["dynamodb.TransactWriteItems"]  # the event with its interval's mark
    expired = [e for e in events(api, token)["data"] if e["action"] == "token.expired"]
    assert [(e["count"], e["reason"]) for e in expired] == [(1, "expired")]


@pytest.mark.slow  # a fault per step of every route
def test_audit_refused_by_routes_folds_per_reason(api, make, faults):
    make.repo()
    make.repo("gh/acme/secret")
    bob = make.user("bob@example.com").grant("gh/acme/widgets", "read")
    token = bob.token()
    faults.reset()
    for _ in range(50):
        assert api.get("/api/v3/organizations/gh/acme/repositories/secret", token)[0] == 404
        assert api.post(REPO + "/tokens", token)[0] == 403
    assert len([op for op in _writes(faults) if op != "dynamodb.UpdateItem"]) == 2  # one per reason
    denied = [e for e in events(api, token)["data"] if e["action"] == "token.denied"]
    assert sorted((e["status"], e["count"]) for e in denied) == [(403, 1), (404, 1)]


def test_audit_folded_requests_are_counted_into_the_next_interval(make, aws):
    """The first refusal of an interval writes; the ones after it in the
    interval are counted into the token's next event for that reason."""
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.models.audit import user_stream

    clock = Clock()
    alice = make.user()
    expiring = alice.token(expires_at=(clock.now + timedelta(days=1)).isoformat())
    _expire(expiring)
    authorizer = TokenAuthorizer(Root(clock=clock))
    request = {"methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/GET/api/v3/user",
               "headers": {"api-token": expiring}}
    for _ in range(30):
        authorizer(request)
    clock.now += timedelta(seconds=301)
    authorizer(request)
    stream = [e for e in AuditEvent.query(user_stream(alice.user_id), scan_index_forward=False)
              if e.action == "token.expired"]
    assert [int(e.refused_requests) for e in stream] == [30, 1]  # newest first: 29 folded + this one


def test_audit_two_instances_write_one_event_per_interval(make, aws):
    """Two authorizer instances (two Lambda containers) refusing the same
    token in the same interval: the mark lets one event through."""
    from chalicelib.authorizer import TokenAuthorizer

    alice = make.user()
    expiring = alice.token(expires_at=(datetime.now(timezone.utc) + timedelta(days=1)).isoformat())
    _expire(expiring)
    request = {"methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/GET/api/v3/user",
               "headers": {"api-token": expiring}}
    for _ in range(5):
        TokenAuthorizer(Root())(request)
        TokenAuthorizer(Root())(request)
    assert sum(1 for e in AuditEvent.scan() if e.action == "token.expired") == 1


TOKENISH_AGENT = "curl/8.0 lka_{}"


def test_audit_user_agent_and_request_are_redacted_before_storage(api, make):
    """A token pasted into User-Agent (or the path) never reaches the trail."""
    make.repo()
    make.repo("gh/acme/secret")
    bob = make.user("bob@example.com").grant("gh/acme/widgets", "read")
    token = bob.token()
    leaked = make.user("carol@example.com").token()
    agent = {"user-agent": f"ci-bot/1.0 (token {leaked}; again {leaked[:20]})"}
    assert api.get("/api/v3/organizations/gh/acme/repositories/secret", token, headers=agent)[0] == 404
    assert api.post(f"/api/v3/user/tokens/{leaked}", token, headers=agent)[0] in (403, 404, 405)
    created = api.post("/api/v3/user/tokens", token, headers=agent)[1]
    stored = [e.attribute_values for e in AuditEvent.scan()]
    assert leaked not in str(stored) and leaked[:20] not in str(stored)
    agents = {e["userAgent"] for e in events(api, token)["data"] if e["tokenId"] in (created["id"], None)
              or e["action"] == "token.denied"}
    assert "ci-bot/1.0 (token <token>; again <token>)" in agents


def test_audit_rejection_log_line_redacts_user_agent_and_path(api, make, caplog):
    leaked = make.user().token()
    with caplog.at_level("INFO", logger="chalicelib.authorizer"):
        api.get(f"/api/v3/user?x={leaked}", "garbage", headers={"user-agent": f"bot {leaked}"})
    lines = [r.getMessage() for r in caplog.records if "token rejected" in r.getMessage()]
    assert lines and all(leaked not in line for line in lines)
    assert "user_agent='bot <token>'" in lines[0]
