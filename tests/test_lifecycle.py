"""The token lifecycle (issue 16) through the API: rotation with a grace
period, reuse detection, scopes, allowedCidrs, maxUses and pause.

Requests go through chalice.test.Client, so the authorizer Lambda and the
local gateway answer them as deployed.
"""
from datetime import datetime, timedelta, timezone

import pytest
from chalice import local

from chalicelib.models.audit import AuditEvent, repository_stream, user_stream
from chalicelib.models.tokens import Token
from chalicelib.token_format import digest
from chalicelib.wiring import Root
from tests.invariants import assert_tokens_consistent

REPO = "/api/v3/organizations/gh/acme/repositories/widgets"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
COVERAGE = {"fileReports": [{"filename": "src/a.py", "coverage": {"1": 1}}]}
NOT_FOUND = (404, {"error": "not found"})


def future(days=30):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def parse(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def end_grace(value: str) -> None:
    """Move a rotated-away token's grace period into the past (as time would)."""
    Token.get(digest(value)).update(actions=[Token.expires_at.set(datetime.now(timezone.utc) - timedelta(seconds=1))])


def actions(stream: str) -> list[str]:
    return [event.action for event in AuditEvent.query(stream, scan_index_forward=True)]


@pytest.fixture
def alice(make):
    user = make.user()
    return user, user.token()


@pytest.fixture
def repo_admin(make):
    make.repo("gh/acme/widgets")
    user = make.user("boss@example.com").grant("gh/acme/widgets", "admin")
    return user, user.token()


def create(api, token, **body):
    status, created = api.post("/api/v3/user/tokens", token, body=body)
    assert status == 200, created
    return created


def create_project(api, token, **body):
    status, created = api.post(REPO + "/tokens", token, body=body)
    assert status == 201, created
    return created["data"]


# -- rotation ---------------------------------------------------------------------


def test_rotate_account_token_answers_successor_and_previous(api, alice):
    _, me = alice
    old = create(api, me, name="ci", expiresAt=future(30))
    status, body = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 3600})
    assert status == 201, body
    new, previous = body["data"], body["previous"]
    assert new["token"].startswith("lka_") and new["token"] != old["token"]
    assert new["name"] == "ci" and new["id"] != old["id"]
    assert new["familyId"] == old["familyId"] == old["id"]
    # The successor gets the lifetime its predecessor was given.
    assert abs((parse(new["expiresAt"]) - parse(new["createdAt"])) - timedelta(days=30)) < timedelta(seconds=5)
    assert previous["id"] == old["id"]
    grace_end = parse(previous["expiresAt"])
    assert timedelta(seconds=3590) < grace_end - parse(new["createdAt"]) <= timedelta(seconds=3600)
    # Both work during the grace period.
    assert api.get("/api/v3/user", old["token"])[0] == 200
    assert api.get("/api/v3/user", new["token"])[0] == 200
    listed = {t["id"]: t for t in api.get("/api/v3/user/tokens", me)[1]["data"]}
    assert listed[old["id"]]["successorId"] == new["id"] and listed[old["id"]]["rotatedAt"]
    assert listed[new["id"]]["rotatedAt"] is None
    assert_tokens_consistent()


def test_rotate_keeps_the_count_and_never_passes_the_limit(api, alice, admin):
    _, me = alice
    old = create(api, me)
    total = api.get("/api/v3/user/tokens", me)[1]["pagination"]["total"]
    api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 60})
    assert api.get("/api/v3/user/tokens", me)[1]["pagination"]["total"] == total
    assert_tokens_consistent()


def test_rotate_a_token_in_its_grace_period_is_409(api, alice):
    _, me = alice
    old = create(api, me)
    assert api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 600})[0] == 201
    status, body = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 600})
    assert status == 409 and "already rotated" in body["error"]


def test_rotate_the_successor_chains_the_family(api, alice):
    _, me = alice
    first = create(api, me)
    second = api.post(f"/api/v3/user/tokens/{first['id']}/rotate", me, body={"gracePeriodSeconds": 60})[1]["data"]
    third = api.post(f"/api/v3/user/tokens/{second['id']}/rotate", me, body={})[1]["data"]
    assert first["familyId"] == second["familyId"] == third["familyId"]


ROTATE_BAD = [
    ({"gracePeriodSeconds": -1}, "gracePeriodSeconds"),
    ({"gracePeriodSeconds": 86401}, "gracePeriodSeconds"),
    ({"gracePeriodSeconds": "60"}, "gracePeriodSeconds"),
    ({"gracePeriodSeconds": True}, "gracePeriodSeconds"),
    ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "x"}, "name"),
]


def test_rotate_bad_input_is_400_and_changes_nothing(api, alice):
    _, me = alice
    old = create(api, me)
    for body, field in ROTATE_BAD:
        status, answer = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body=body)
        assert status == 400 and answer["error"].startswith(field), (body, answer)
    assert api.get("/api/v3/user", old["token"])[0] == 200
    assert Token.get(digest(old["token"])).rotated_at is None


def test_rotate_with_grace_86400_and_explicit_expiry(api, alice):
    _, me = alice
    old = create(api, me)
    expires = future(10)
    status, body = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me,
                            body={"gracePeriodSeconds": 86400, "expiresAt": expires})
    assert status == 201
    assert abs(parse(body["data"]["expiresAt"]) - datetime.fromisoformat(expires)) < timedelta(seconds=1)
    assert parse(body["previous"]["expiresAt"]) - parse(body["data"]["createdAt"]) > timedelta(hours=23, minutes=59)


def test_rotate_never_extends_the_old_tokens_life(api, alice):
    _, me = alice
    soon = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()
    old = create(api, me, expiresAt=soon)
    body = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 86400})[1]
    assert parse(body["previous"]["expiresAt"]) <= datetime.fromisoformat(soon)


def test_rotate_an_expired_token_is_409(api, alice):
    _, me = alice
    old = create(api, me)
    end_grace(old["token"])
    assert api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={})[0] == 409


def test_rotate_another_users_token_is_404(api, alice, make):
    _, me = alice
    other = make.user("bob@example.com").token()
    theirs = create(api, other)
    assert api.post(f"/api/v3/user/tokens/{theirs['id']}/rotate", me, body={}) == NOT_FOUND
    assert api.get("/api/v3/user", theirs["token"])[0] == 200


def test_rotate_is_audited_in_one_transaction(api, alice):
    user, me = alice
    old = create(api, me)
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 5})[1]["data"]
    events = list(AuditEvent.query(user_stream(user.user_id)))
    rotated = [e for e in events if e.action == "token.rotated"]
    assert len(rotated) == 1 and int(rotated[0].token_id) == old["id"]
    assert f"rotated to token {new['id']}" in rotated[0].reason
    created = [e for e in events if e.action == "token.created" and int(e.token_id) == new["id"]]
    assert len(created) == 1 and f"rotation of token {old['id']}" in created[0].reason


# -- reuse after the grace period ---------------------------------------------------


def test_reuse_after_grace_revokes_the_whole_family(api, alice):
    user, me = alice
    first = create(api, me)
    second = api.post(f"/api/v3/user/tokens/{first['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    third = api.post(f"/api/v3/user/tokens/{second['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    unrelated = create(api, me)
    end_grace(first["token"])
    assert api.get("/api/v3/user", first["token"]) == NOT_FOUND
    # The thief's replay killed every token of the lineage, at once.
    for member in (first, second, third):
        assert api.get("/api/v3/user", member["token"]) == NOT_FOUND
    assert api.get("/api/v3/user", unrelated["token"])[0] == 200
    trail = actions(user_stream(user.user_id))
    assert trail.count("token.reused") == 1
    reused = next(e for e in AuditEvent.query(user_stream(user.user_id)) if e.action == "token.reused")
    assert int(reused.token_id) == first["id"] and reused.outcome == "denied" and reused.source_ip == "127.0.0.1"
    deleted = [e for e in AuditEvent.query(user_stream(user.user_id)) if e.action == "token.deleted"]
    assert {int(e.token_id) for e in deleted} == {first["id"], second["id"], third["id"]}
    assert all("reuse" in e.reason for e in deleted)
    assert_tokens_consistent()


def test_grace_zero_makes_the_next_use_of_the_old_token_a_reuse(api, alice):
    _, me = alice
    old = create(api, me)
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 0})[1]["data"]
    assert api.get("/api/v3/user", old["token"]) == NOT_FOUND
    assert api.get("/api/v3/user", new["token"]) == NOT_FOUND


def test_reuse_of_a_project_token_revokes_its_family(api, make, repo_admin):
    _, boss = repo_admin
    old = create_project(api, boss, name="ci")
    rotated = api.post(f"{REPO}/tokens/{old['id']}/rotate", boss, body={"gracePeriodSeconds": 60})
    assert rotated[0] == 201
    new = rotated[1]["data"]
    assert new["name"] == "ci" and new["token"].startswith("lkp_")
    assert api.get(REPO, new["token"])[0] == 200 and api.get(REPO, old["token"])[0] == 200
    end_grace(old["token"])
    assert api.get(REPO, old["token"]) == NOT_FOUND
    assert api.get(REPO, new["token"]) == NOT_FOUND
    assert "token.reused" in actions(repository_stream(make.repository_id()))


def test_rotated_away_tokens_leave_the_list_after_their_grace(api, alice):
    _, me = alice
    old = create(api, me)
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    end_grace(old["token"])
    listed = [t["id"] for t in api.get("/api/v3/user/tokens", me)[1]["data"]]
    assert new["id"] in listed and old["id"] not in listed


def test_deleting_a_rotated_away_token_keeps_the_successor(api, alice):
    _, me = alice
    old = create(api, me, name="ci")
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    assert api.delete(f"/api/v3/user/tokens/{old['id']}", me) == (204, None)
    assert api.get("/api/v3/user", new["token"])[0] == 200
    # The name still belongs to the successor.
    assert api.post("/api/v3/user/tokens", me, body={"name": "ci"})[0] == 409
    assert_tokens_consistent()


# -- scopes -------------------------------------------------------------------------


def test_project_token_scopes_are_stored_and_listed(api, repo_admin):
    _, boss = repo_admin
    scoped = create_project(api, boss, scopes=["repository:read", "coverage:write"])
    assert scoped["scopes"] == ["coverage:write", "repository:read"]
    unscoped = create_project(api, boss)
    assert unscoped["scopes"] == ["coverage:write", "analysis:write", "repository:read"]
    assert create(api, boss)["scopes"] is None


def test_scope_missing_is_403_naming_it(api, repo_admin):
    _, boss = repo_admin
    token = create_project(api, boss, scopes=["coverage:write"])["token"]
    assert api.post(f"/2.0/coverage/{COMMIT}/python", token, body=COVERAGE)[0] == 200
    status, body = api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", token, body=[])
    assert status == 403 and "analysis:write" in body["error"]
    status, body = api.get(REPO, token)
    assert status == 403 and "repository:read" in body["error"]


def test_bad_scopes_are_400(api, repo_admin):
    _, boss = repo_admin
    for scopes in ([], ["admin"], "coverage:write", [1]):
        status, body = api.post(REPO + "/tokens", boss, body={"scopes": scopes})
        assert status == 400 and body["error"].startswith("scopes"), (scopes, body)


def test_account_tokens_take_no_scopes(api, alice):
    _, me = alice
    status, body = api.post("/api/v3/user/tokens", me, body={"scopes": ["coverage:write"]})
    assert status == 400 and body["error"].startswith("scopes")


def test_rotation_keeps_scopes_and_limits(api, repo_admin):
    _, boss = repo_admin
    old = create_project(api, boss, scopes=["analysis:write"], allowedCidrs=["127.0.0.0/8"], maxUses=50)
    new = api.post(f"{REPO}/tokens/{old['id']}/rotate", boss, body={})[1]["data"]
    assert new["scopes"] == ["analysis:write"] and new["allowedCidrs"] == ["127.0.0.0/8"]
    assert new["maxUses"] == 50 and new["uses"] == 0


# -- allowedCidrs ---------------------------------------------------------------------


@pytest.fixture
def source_ip(monkeypatch):
    """The source address the (local) API Gateway reports."""
    def set_to(address):
        monkeypatch.setattr(local.LambdaEventConverter, "LOCAL_SOURCE_IP", address)
    return set_to


SOURCES = [
    (["127.0.0.0/8"], "127.0.0.1", True),
    (["203.0.113.0/24"], "127.0.0.1", False),
    (["203.0.113.0/24", "198.51.100.7/32"], "198.51.100.7", True),
    (["2001:db8::/32"], "2001:db8:1234::1", True),
    (["2001:db8::/32"], "2001:db9::1", False),
    (["2001:db8::/32"], "203.0.113.5", False),
    (["203.0.113.0/24"], "::ffff:203.0.113.9", True),
    (["203.0.113.0/24"], "", False),
]


def test_allowed_cidrs_against_the_source_address(api, alice, source_ip):
    user, me = alice
    for cidrs, address, allowed in SOURCES:
        token = create(api, me, allowedCidrs=cidrs)["token"]
        source_ip(address)
        status, body = api.get("/api/v3/user", token)
        if allowed:
            assert status == 200, (cidrs, address, body)
        else:
            assert (status, body) == (403, {"error": "source address not allowed"}), (cidrs, address)
            refused = [e for e in AuditEvent.query(user_stream(user.user_id)) if e.action == "token.denied"]
            assert refused and refused[-1].reason == "source address not allowed"
        source_ip("127.0.0.1")


def test_allowed_cidrs_ignore_forwarding_headers(api, alice, source_ip):
    _, me = alice
    token = create(api, me, allowedCidrs=["203.0.113.0/24"])["token"]
    source_ip("198.51.100.1")
    spoofed = {"X-Forwarded-For": "203.0.113.5", "X-Real-IP": "203.0.113.5", "Forwarded": "for=203.0.113.5"}
    assert api.get("/api/v3/user", token, headers=spoofed)[0] == 403


def test_bad_allowed_cidrs_are_400(api, alice):
    _, me = alice
    for cidrs in ([], ["10.0.0.7/8"], ["not-a-cidr"], [f"10.{i}.0.0/16" for i in range(21)], "10.0.0.0/8", [7]):
        status, body = api.post("/api/v3/user/tokens", me, body={"allowedCidrs": cidrs})
        assert status == 400 and body["error"].startswith("allowedCidrs"), (cidrs, body)


def test_twenty_cidrs_are_accepted(api, alice):
    _, me = alice
    cidrs = [f"10.{i}.0.0/16" for i in range(19)] + ["::1/128"]
    assert create(api, me, allowedCidrs=cidrs)["allowedCidrs"] == cidrs


# -- maxUses ------------------------------------------------------------------------


def test_single_use_token(api, alice):
    _, me = alice
    token = create(api, me, maxUses=1)["token"]
    assert api.get("/api/v3/user", token)[0] == 200
    assert api.get("/api/v3/user", token) == NOT_FOUND
    assert api.get("/api/v3/user", token) == NOT_FOUND


def test_max_uses_counts_and_lists(api, alice):
    _, me = alice
    created = create(api, me, maxUses=3)
    for _ in range(3):
        assert api.get("/api/v3/user", created["token"])[0] == 200
    assert api.get("/api/v3/user", created["token"]) == NOT_FOUND
    listed = next(t for t in api.get("/api/v3/user/tokens", me)[1]["data"] if t["id"] == created["id"])
    assert (listed["maxUses"], listed["uses"]) == (3, 3)


def test_bad_max_uses_is_400(api, alice):
    _, me = alice
    for value in (0, -1, True, "3", 1.5, 10**10):
        status, body = api.post("/api/v3/user/tokens", me, body={"maxUses": value})
        assert status == 400 and body["error"].startswith("maxUses"), (value, body)


# -- pause ----------------------------------------------------------------------------


def test_pause_and_resume_an_account_token(api, alice):
    user, me = alice
    created = create(api, me)
    path = f"/api/v3/user/tokens/{created['id']}"
    status, body = api.call("PATCH", path, me, body={"disabled": True})
    assert status == 200 and body["data"]["disabled"] is True
    assert api.get("/api/v3/user", created["token"]) == (401, {"error": "token disabled"})
    assert api.call("PATCH", path, me, body={"disabled": False})[1]["data"]["disabled"] is False
    assert api.get("/api/v3/user", created["token"])[0] == 200
    trail = actions(user_stream(user.user_id))
    assert "token.paused" in trail and "token.resumed" in trail
    assert any(e.reason == "token disabled" for e in AuditEvent.query(user_stream(user.user_id))
               if e.action == "token.denied")


def test_pause_a_project_token(api, repo_admin):
    _, boss = repo_admin
    created = create_project(api, boss)
    path = f"{REPO}/tokens/{created['id']}"
    assert api.call("PATCH", path, boss, body={"disabled": True})[0] == 200
    assert api.get(REPO, created["token"]) == (401, {"error": "token disabled"})
    assert api.post(f"/2.0/coverage/{COMMIT}/python", created["token"], body=COVERAGE) == (
        401, {"error": "token disabled"})
    assert api.call("PATCH", path, boss, body={"disabled": False})[0] == 200
    assert api.get(REPO, created["token"])[0] == 200


def test_patch_bad_input_is_400(api, alice):
    _, me = alice
    created = create(api, me)
    for body in ({}, {"disabled": "yes"}, {"disabled": None}, {"disabled": True, "name": "x"}):
        status, answer = api.call("PATCH", f"/api/v3/user/tokens/{created['id']}", me, body=body)
        assert status == 400 and answer["error"].startswith(("disabled", "name")), (body, answer)
    assert api.get("/api/v3/user", created["token"])[0] == 200


def test_patch_another_users_token_is_404(api, alice, make):
    _, me = alice
    theirs = create(api, make.user("bob@example.com").token())
    assert api.call("PATCH", f"/api/v3/user/tokens/{theirs['id']}", me, body={"disabled": True}) == NOT_FOUND
    assert api.get("/api/v3/user", theirs["token"])[0] == 200


# -- the authorizer's decisions, on API Gateway's REQUEST events -------------------

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/api/v3/user"


def request_event(token, source_ip, **headers):
    """A REQUEST authorizer event as API Gateway sends it: the source address
    is in requestContext.identity, where no client header can reach."""
    return {"type": "REQUEST", "methodArn": ARN, "headers": {"api-token": token, **headers},
            "requestContext": {"identity": {"sourceIp": source_ip, "userAgent": "curl/8"}}}


def test_authorizer_checks_the_reported_ipv6_source(make):
    from chalicelib.authorizer import TokenAuthorizer

    token = make.user().token(allowed_cidrs=["2001:db8:abcd::/48"])
    authorizer = TokenAuthorizer(Root())
    allowed = authorizer(request_event(token, "2001:db8:abcd:12::1"))
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow" and "denial" not in allowed["context"]
    refused = authorizer(request_event(token, "2001:db8:abce::1", **{"X-Forwarded-For": "2001:db8:abcd::1"}))
    assert refused["context"] == {"denial": "source"}
    assert refused["policyDocument"]["Statement"][0]["Resource"] == [ARN]  # this one method only


def test_authorizer_reuse_decision_names_the_token(make, admin):
    from chalicelib.authorizer import TokenAuthorizer

    alice = make.user()
    old = alice.token()
    token_id = int(admin.tokens.tokens.find(digest(old)).token_id)
    admin.tokens.rotate_account_token(alice.principal(), token_id, grace_period_seconds=0)
    decision = TokenAuthorizer(Root())(request_event(old, "127.0.0.1"))
    assert decision["context"] == {"denial": "reused", "tokenId": str(token_id)}
    assert decision["principalId"] == "anonymous"


def test_only_the_direct_predecessor_keeps_a_grace_period(api, alice):
    _, me = alice
    first = create(api, me)
    second = api.post(f"/api/v3/user/tokens/{first['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    third = api.post(f"/api/v3/user/tokens/{second['id']}/rotate", me, body={"gracePeriodSeconds": 600})[1]["data"]
    assert api.get("/api/v3/user", second["token"])[0] == 200  # the direct predecessor, in its grace period
    assert api.get("/api/v3/user", third["token"])[0] == 200
    # The first one's grace ended with the second rotation: its use is a reuse.
    assert api.get("/api/v3/user", first["token"]) == NOT_FOUND
    assert api.get("/api/v3/user", third["token"]) == NOT_FOUND


def test_revoke_by_value_ends_the_grace_period_at_once(api, alice):
    """Issue 15's revoke-by-value (and leak reports, through the same
    service): a rotated-away token still in its grace period dies with the
    successor reported, and a reported predecessor dies at once."""
    _, me = alice
    old = create(api, me)
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 3600})[1]["data"]
    assert api.get("/api/v3/user", old["token"])[0] == 200
    status, _ = api.post("/api/v3/credentials/revoke", body={"credentials": [new["token"]]})
    assert status == 202
    assert api.get("/api/v3/user", new["token"]) == NOT_FOUND
    assert api.get("/api/v3/user", old["token"]) == NOT_FOUND
    assert_tokens_consistent()


def test_revoke_by_value_of_a_token_in_grace_keeps_its_successor(api, alice):
    _, me = alice
    old = create(api, me)
    new = api.post(f"/api/v3/user/tokens/{old['id']}/rotate", me, body={"gracePeriodSeconds": 3600})[1]["data"]
    assert api.post("/api/v3/credentials/revoke", body={"credentials": [old["token"]]})[0] == 202
    assert api.get("/api/v3/user", old["token"]) == NOT_FOUND
    assert api.get("/api/v3/user", new["token"])[0] == 200
