"""Issue 12: expired tokens are marked in lists, do not count toward the
limit, and are removed by DynamoDB TTL 30 days after expiry, with the
counter and the audit trail kept right."""
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import token_format
from chalicelib.access import Principal
from chalicelib.models.audit import AuditEvent
from chalicelib.models.tokens import Token, TokenCounter, TokenId, TokenName, user_owner
from chalicelib.store.tokens import LimitReached
from chalicelib.token_format import Kind
from tests.invariants import assert_tokens_consistent


def soon() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()


def expire(value: str, ago: timedelta = timedelta(seconds=1)) -> Token:
    token = Token.get(token_format.digest(value))
    token.update(actions=[Token.expires_at.set(datetime.now(timezone.utc) - ago)])
    return token


@pytest.fixture
def small(admin):
    """A TokenService whose users may hold 3 account tokens."""
    from chalicelib.wiring import Root

    return Root(settings=dataclasses.replace(admin.tokens.settings, max_account_tokens=3)).tokens


def test_expired_lists_mark_expired_tokens(api, make):
    alice = make.user()
    token = alice.token()
    created = api.post("/api/v3/user/tokens", token, body={"name": "old", "expiresAt": soon()})[1]
    expire(created["token"])
    listed = {t["name"]: t["expired"] for t in api.get("/api/v3/user/tokens", token)[1]["data"]}
    assert listed == {"old": True, None: False}


def test_expired_tokens_do_not_count_toward_the_limit(admin, small):
    user = admin.create_user("filled@example.com")
    me = Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))
    old = [small.create_account_token(me, name=f"old{i}", expires_at=soon()) for i in range(3)]
    with pytest.raises(LimitReached):
        small.create_account_token(me)
    for made in old[:2]:
        expire(made.value)
    fresh = [small.create_account_token(me, name=f"new{i}") for i in range(2)]
    assert len(fresh) == 2
    with pytest.raises(LimitReached):  # 1 live old + 2 new: the limit holds for live tokens
        small.create_account_token(me)
    owner = user_owner(user.user_id)
    assert int(TokenCounter.get(TokenCounter.key(owner)).count) == 3
    retired = [Token.get(token_format.digest(made.value)) for made in old[:2]]
    assert all(t.retired for t in retired)
    for t in retired:  # TTL removes the token and its id and name items 30 days after expiry
        removal = t.expires_at + timedelta(days=30)
        assert abs((t.removal_at - removal).total_seconds()) < 1
        assert TokenId.get(TokenId.key(t.token_id)).removal_at == t.removal_at
        assert TokenName.get(TokenName.key(owner, t.name)).removal_at == t.removal_at
    events = [e for e in AuditEvent.query(f"user#{user.user_id}") if e.action == "token.retired"]
    assert sorted(int(e.token_id) for e in events) == sorted(int(t.token_id) for t in retired)
    assert_tokens_consistent()


def test_expired_token_deleted_after_retirement_is_counted_once(admin, small):
    user = admin.create_user("tidy@example.com")
    me = Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))
    made = [small.create_account_token(me, name=f"t{i}", expires_at=soon()) for i in range(3)]
    expire(made[0].value)
    small.create_account_token(me, name="new")  # retires t0
    small.delete_account_token(me, int(made[0].token.token_id))
    assert int(TokenCounter.get(TokenCounter.key(user_owner(user.user_id))).count) == 3
    assert_tokens_consistent()


def test_expired_ttl_removal_keeps_the_counter_right(admin, small):
    """DynamoDB TTL deletes a retired token's items (simulated here: moto
    never expires items): it had left the counter already."""
    user = admin.create_user("ttl@example.com")
    me = Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))
    made = [small.create_account_token(me, name=f"t{i}", expires_at=soon()) for i in range(3)]
    token = expire(made[0].value, ago=timedelta(days=31))
    small.create_account_token(me, name="new")
    token.refresh()
    assert token.retired and token.removal_at < datetime.now(timezone.utc)  # due for TTL now
    for item in (token, TokenId.get(TokenId.key(token.token_id)), TokenName.get(TokenName.key(token.owner, "t0"))):
        item.delete()  # what TTL does
    assert_tokens_consistent()
    with pytest.raises(LimitReached):
        small.create_account_token(me)


def test_expired_ttl_is_enabled_on_the_tokens_table(aws):
    from infra.data import table_resource

    ttl = Token._get_connection().connection.client.describe_time_to_live(TableName=Token.Meta.table_name)
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "removal_at"}
    template = table_resource(Token, "prod")["Properties"]["TimeToLiveSpecification"]
    assert template == {"AttributeName": "removal_at", "Enabled": True}


def test_expired_listing_retires_and_total_counts_live_tokens(api, make):
    alice = make.user()
    token = alice.token()
    created = api.post("/api/v3/user/tokens", token, body={"name": "old", "expiresAt": soon()})[1]
    expire(created["token"])
    body = api.get("/api/v3/user/tokens", token)[1]
    assert len(body["data"]) == 2 and body["pagination"]["total"] == 1
    assert Token.get(token_format.digest(created["token"])).retired
    assert api.get("/api/v3/user", created["token"]) == (401, {"error": "token expired"})
