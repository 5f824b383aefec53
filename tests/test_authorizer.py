"""The authorizer on its own: REQUEST events in, API Gateway policies out."""
import dataclasses
from datetime import timedelta

import pytest

from chalicelib import token_format
from chalicelib.authorizer import TokenAuthorizer, policy_resource
from chalicelib.settings import get_settings
from chalicelib.store.tokens import TokenStore
from chalicelib.token_format import Kind
from chalicelib.wiring import Root

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/api/v3/user"


def event(**headers):
    return {"type": "REQUEST", "methodArn": ARN, "headers": headers}


def effect(decision):
    return decision["policyDocument"]["Statement"][0]["Effect"]


class ExplodingStore:
    """A store that must not be called."""

    def find(self, digest):
        raise AssertionError("the store was read")


@pytest.fixture
def authorizer(aws, clock):
    return TokenAuthorizer(Root(clock=clock))


def test_authorizer_no_token_is_unauthorized(authorizer):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(event())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(event(**{"api-token": "  "}))


@pytest.mark.parametrize("raw", ["garbage", "lka_" + "A" * 33, "Bearer x", "lka_" + "0" * 40])
def test_authorizer_malformed_token_denied_without_a_read(raw):
    decision = TokenAuthorizer(Root(token_store=ExplodingStore()))(event(**{"api-token": raw}))
    assert effect(decision) == "Deny"
    assert decision["policyDocument"]["Statement"][0]["Resource"] == [ARN]


def test_authorizer_unknown_token_denied(authorizer):
    decision = authorizer(event(**{"api-token": token_format.generate(Kind.ACCOUNT)}))
    assert effect(decision) == "Deny"


@pytest.mark.parametrize("header", ["api-token", "api_token", "API-Token", "Api_Token"])
def test_authorizer_account_token_allowed_with_principal(authorizer, make, header):
    alice = make.user()
    decision = authorizer(event(**{header: alice.token()}))
    assert effect(decision) == "Allow"
    assert decision["policyDocument"]["Statement"][0]["Resource"] == [ARN]
    assert decision["context"]["kind"] == "account"
    assert decision["context"]["userId"] == str(alice.user_id)
    assert all(isinstance(v, str) for v in decision["context"].values())


@pytest.mark.parametrize("header", ["project-token", "project_token"])
def test_authorizer_project_token_allowed_with_repository(authorizer, make, header):
    make.repo("gh/acme/widgets")
    decision = authorizer(event(**{header: make.project_token("gh/acme/widgets")}))
    assert effect(decision) == "Allow"
    assert decision["context"]["repository"] == "gh/acme/widgets"
    assert "userId" not in decision["context"]


def test_authorizer_same_token_under_both_spellings_is_one_token(authorizer, make):
    make.repo()
    token = make.project_token()
    decision = authorizer(event(**{"project-token": token, "project_token": token}))
    assert effect(decision) == "Allow"


def test_authorizer_two_different_tokens_are_ambiguous(authorizer, make):
    alice = make.user()
    decision = authorizer(event(**{"api-token": alice.token(), "api_token": alice.token()}))
    assert decision["context"] == {"denial": "ambiguous"}


def test_authorizer_token_under_other_kinds_header_is_misplaced(authorizer, make):
    decision = authorizer(event(**{"project-token": make.user().token()}))
    assert decision["context"] == {"denial": "misplaced"}


def test_authorizer_expired_token(authorizer, make, clock):
    expires = clock.now + timedelta(days=1)
    token = make.user().token(expires_at=expires.isoformat())
    allowed = authorizer(event(**{"api-token": token}))
    assert effect(allowed) == "Allow"
    # the expiry rides in the context (for Latchkey-Token-Expiration), read by the same one read
    assert allowed["context"]["tokenExpiration"] == expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    clock.now += timedelta(days=1, seconds=1)
    assert authorizer(event(**{"api-token": token}))["context"] == {
        "denial": "expired", "tokenExpiration": expires.strftime("%Y-%m-%d %H:%M:%S UTC")}


def test_authorizer_disabled_user_denied(authorizer, make, admin):
    alice = make.user()
    token = alice.token()
    admin.disable_user(alice.email)
    assert effect(authorizer(event(**{"api-token": token}))) == "Deny"


def test_authorizer_last_used_written_once_per_interval(authorizer, make, clock):
    token = make.user().token()
    digest = token_format.digest(token)
    store = TokenStore(get_settings())
    assert store.find(digest).last_used_at is None
    authorizer(event(**{"api-token": token}))
    first = store.find(digest).last_used_at
    assert first is not None
    clock.now += timedelta(seconds=299)
    authorizer(event(**{"api-token": token}))
    assert store.find(digest).last_used_at == first
    clock.now += timedelta(seconds=2)
    authorizer(event(**{"api-token": token}))
    assert store.find(digest).last_used_at > first


def test_authorizer_last_used_failure_does_not_fail_the_request(make, clock, monkeypatch):
    token = make.user().token()

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB is down for writes")

    monkeypatch.setattr("chalicelib.store.tokens._touch_connection", broken)
    assert effect(TokenAuthorizer(Root(clock=clock))(event(**{"api-token": token}))) == "Allow"


def test_policy_resource_exact_without_cache_stage_wide_with_cache():
    assert policy_resource(ARN, 0) == ARN
    assert policy_resource(ARN, 60) == "arn:aws:execute-api:us-east-1:123456789012:abc123/api/*"


def test_authorizer_with_cache_allows_whole_stage(aws, make):
    settings = dataclasses.replace(get_settings(), authorizer_ttl_seconds=30)
    decision = TokenAuthorizer(Root(settings=settings))(event(**{"api-token": make.user().token()}))
    assert decision["policyDocument"]["Statement"][0]["Resource"] == [policy_resource(ARN, 30)]


# -- issue 12: every value of repeated headers, in any order -----------------

def test_authorizer_answer_does_not_depend_on_header_order(authorizer, make):
    """The same account token under api-token and project-token: 400
    (a token under the other kind's header) whichever header comes first."""
    token = make.user().token()
    answers = set()
    for names in (("api-token", "project-token"), ("project-token", "api-token")):
        decision = authorizer({"methodArn": ARN, "headers": {names[0]: token, names[1]: token}})
        answers.add((effect(decision), decision["context"].get("denial")))
        multi = {"methodArn": ARN, "multiValueHeaders": {names[0]: [token], names[1]: [token]}}
        decision = authorizer(multi)
        answers.add((effect(decision), decision["context"].get("denial")))
    assert answers == {("Allow", "misplaced")}


def test_authorizer_reads_every_value_of_a_repeated_header(authorizer, make):
    bob, alice = make.user("bob@example.com").token(), make.user("alice@example.com").token()
    for values in ([bob, alice], [alice, bob]):
        decision = authorizer({"methodArn": ARN, "headers": {"api-token": values[-1]},
                               "multiValueHeaders": {"api-token": values}})
        assert (effect(decision), decision["context"].get("denial")) == ("Allow", "ambiguous")
    same = authorizer({"methodArn": ARN, "multiValueHeaders": {"api-token": [bob, bob]}})
    assert "kind" in same["context"]


def _stored(owner: str, repository: str | None = None):
    from types import SimpleNamespace

    return SimpleNamespace(owner=owner, token_id=9, hint="lk_...abcd", scopes=None, repository=repository)


def test_principal_of_an_account_token_is_its_user():
    from chalicelib.authorizer import principal_of

    principal = principal_of(_stored("user#5"), Kind.ACCOUNT)
    assert (principal.user_id, principal.repository, principal.repository_id) == (5, None, None)


def test_principal_of_a_project_token_names_its_repository_and_id():
    from chalicelib.authorizer import principal_of
    from chalicelib.repository_ref import RepositoryRef

    principal = principal_of(_stored("repo#7", "gh/acme/widgets"), Kind.PROJECT)
    assert principal.repository == RepositoryRef("gh", "acme", "widgets", 7) and principal.user_id is None
    assert principal.to_context()["repository"] == "gh/acme/widgets" and principal.to_context()["repositoryId"] == "7"


def test_principal_of_a_name_keyed_project_token_has_no_repository_id():
    # Owners from before ids keyed them (repo#<name>) match no repository.
    from chalicelib.authorizer import principal_of

    principal = principal_of(_stored("repo#widgets", "gh/acme/widgets"), Kind.PROJECT)
    assert str(principal.repository) == "gh/acme/widgets" and principal.repository_id is None
