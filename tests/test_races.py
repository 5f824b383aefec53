"""Races, with real threads against a real moto server over HTTP.

Requests go straight to the services and the authorizer (what each API
request runs): chalice.test.Client keeps `current_request` in one global,
so it cannot serve requests from several threads at once.
"""
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.access import Principal
from chalicelib.errors import Conflict, NotFound, Unavailable
from chalicelib.models.tokens import Token, user_owner
from chalicelib.token_format import digest
from chalicelib.store.tokens import LimitReached
from chalicelib.token_format import Kind
from tests.invariants import assert_tokens_consistent

THREADS = 12
RACES = {"count": 0}


def together(functions):
    """Run every function at the same moment; each one's result or exception."""
    barrier = threading.Barrier(len(functions))

    def run(function):
        barrier.wait()
        try:
            return function()
        except Exception as error:  # noqa: BLE001 - the outcome is what is compared
            return error

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        return list(pool.map(run, functions))


@pytest.fixture
def services(moto_server):
    from chalicelib.services.admin import AdminService
    from chalicelib.services.tokens import TokenService

    admin = AdminService()
    settings = dataclasses.replace(admin.tokens.settings, max_account_tokens=5)
    return admin, TokenService(settings=settings)


def principal_of(user) -> Principal:
    return Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))


def test_races_parallel_creates_never_pass_the_limit(services):
    admin, tokens = services
    for round_ in range(3):
        user = admin.create_user(f"racer{round_}@example.com")
        me = principal_of(user)
        results = together([
            (lambda i=i, me=me: tokens.create_account_token(me, name=f"t{i}")) for i in range(THREADS)
        ])
        RACES["count"] += 1
        created = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(e, (LimitReached, Unavailable)) for e in refused), refused
        assert len(created) == 5
        assert len({c.token.token_id for c in created}) == 5
        assert len({c.token.name for c in created}) == 5
        assert len({c.value for c in created}) == 5
        stored = [t for t in assert_tokens_consistent().values() if t.owner == user_owner(user.user_id)]
        assert sorted(int(t.token_id) for t in stored) == sorted(int(c.token.token_id) for c in created)


def test_races_parallel_creates_of_one_name_make_one_token(services):
    admin, tokens = services
    user = admin.create_user("samename@example.com")
    me = principal_of(user)
    results = together([(lambda: tokens.create_account_token(me, name="ci")) for _ in range(THREADS)])
    RACES["count"] += 1
    created = [r for r in results if not isinstance(r, Exception)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) and r.field == "name" for r in results if r not in created)
    assert len(assert_tokens_consistent()) == 1


def test_races_revoke_vs_use_nothing_succeeds_after_the_revoke_answer(services):
    from chalicelib.authorizer import TokenAuthorizer

    admin, tokens = services
    authorizer = TokenAuthorizer()
    for round_ in range(4):
        user = admin.create_user(f"revoked{round_}@example.com")
        me = principal_of(user)
        created = tokens.create_account_token(me)
        event = {"methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/GET/api/v3/user",
                 "headers": {"api-token": created.value}}
        revoked = threading.Event()
        late_allows = []

        def use(event=event, revoked=revoked, late_allows=late_allows):
            for _ in range(15):
                after_revoke = revoked.is_set()
                decision = authorizer(event)
                if after_revoke and decision["policyDocument"]["Statement"][0]["Effect"] == "Allow":
                    late_allows.append(decision)

        def revoke(me=me, created=created, revoked=revoked):
            tokens.delete_account_token(me, int(created.token.token_id))
            revoked.set()

        together([use, use, use, revoke])
        RACES["count"] += 1
        assert late_allows == []
        final = authorizer(event)
        assert final["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_races_revoke_vs_revoke_exactly_one_wins(services):
    admin, tokens = services
    for round_ in range(5):
        user = admin.create_user(f"double{round_}@example.com")
        me = principal_of(user)
        created = tokens.create_account_token(me, name="victim")
        token_id = int(created.token.token_id)
        results = together([(lambda me=me, i=token_id: tokens.delete_account_token(me, i)) for _ in range(4)])
        RACES["count"] += 1
        assert results.count(None) == 1, results
        assert all(isinstance(r, NotFound) for r in results if r is not None)
        assert assert_tokens_consistent() == {}


def test_races_parallel_rotations_make_exactly_one_successor(services):
    """Issue 16: never two live successors, never none."""
    admin, tokens = services
    for round_ in range(3):
        user = admin.create_user(f"rotator{round_}@example.com")
        me = principal_of(user)
        old = tokens.create_account_token(me, name="ci")
        old_id = int(old.token.token_id)
        results = together([
            (lambda me=me, i=old_id: tokens.rotate_account_token(me, i, grace_period_seconds=600))
            for _ in range(THREADS)
        ])
        RACES["count"] += 1
        rotations = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(rotations) == 1, results
        assert all(isinstance(e, (Conflict, Unavailable)) for e in refused), refused
        stored = [t for t in assert_tokens_consistent().values() if t.owner == user_owner(user.user_id)]
        live = [t for t in stored if t.rotated_at is None]
        assert [int(t.token_id) for t in live] == [int(rotations[0].successor.token.token_id)]
        retired = [t for t in stored if t.rotated_at is not None]
        assert [int(t.successor_id) for t in retired] == [int(live[0].token_id)]


def test_races_parallel_uses_never_pass_max_uses(services):
    """Issue 16: the authorizer's conditional update admits exactly maxUses
    of many concurrent requests."""
    from chalicelib.authorizer import TokenAuthorizer

    admin, tokens = services
    authorizer = TokenAuthorizer()
    for round_, max_uses in enumerate((1, 5)):
        user = admin.create_user(f"limited{round_}@example.com")
        created = tokens.create_account_token(principal_of(user), max_uses=max_uses)
        event = {"methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/GET/api/v3/user",
                 "headers": {"api-token": created.value}}
        results = together([(lambda event=event: authorizer(event)) for _ in range(THREADS)])
        RACES["count"] += 1
        effects = [r["policyDocument"]["Statement"][0]["Effect"] for r in results if isinstance(r, dict)]
        errors = [r for r in results if not isinstance(r, dict)]
        assert all(isinstance(e, Unavailable) for e in errors), errors
        assert effects.count("Allow") <= max_uses
        if not errors:  # nothing throttled: every use up to the limit was granted
            assert effects.count("Allow") == max_uses
            assert authorizer(event)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        # A use whose answer was lost (a timeout after the write) is spent:
        # the count may run ahead of the grants, never behind.
        uses = int(Token.get(digest(created.value)).uses)
        assert effects.count("Allow") <= uses <= effects.count("Allow") + len(errors)


def test_races_count(capsys):
    with capsys.disabled():
        print(f"\nraces run in test_races.py: {RACES['count']}")
