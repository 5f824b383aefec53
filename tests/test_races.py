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
from chalicelib.repository_ref import RepositoryRef
from chalicelib.store.tokens import LimitReached
from chalicelib.token_format import Kind, digest
from chalicelib.wiring import Root
from tests.helpers import tally
from tests.invariants import assert_tokens_consistent

THREADS = 12
# Real threads against a real moto server, many rounds each.
pytestmark = pytest.mark.slow


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
def services(moto_server, root):
    from chalicelib.wiring import Root

    admin = root.admin
    settings = dataclasses.replace(admin.tokens.settings, max_account_tokens=5)
    return admin, Root(settings=settings).tokens


def principal_of(user) -> Principal:
    return Principal(Kind.ACCOUNT, token_id=1, user_id=int(user.user_id))


def user_with_token(admin, tokens, email: str, name: str):
    """A new user with one account token: (the user, its principal, the token's id)."""
    user = admin.create_user(email)
    me = principal_of(user)
    return user, me, int(tokens.create_account_token(me, name=name).token.token_id)


def test_races_parallel_creates_never_pass_the_limit(services):
    admin, tokens = services
    for round_ in range(3):
        user = admin.create_user(f"racer{round_}@example.com")
        me = principal_of(user)
        results = together([
            (lambda i=i, me=me: tokens.create_account_token(me, name=f"t{i}")) for i in range(THREADS)
        ])
        tally("races run (test_races.py)")
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
    tally("races run (test_races.py)")
    created = [r for r in results if not isinstance(r, Exception)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) and r.field == "name" for r in results if r not in created)
    assert len(assert_tokens_consistent()) == 1


def test_races_revoke_vs_use_nothing_succeeds_after_the_revoke_answer(services):
    from chalicelib.authorizer import TokenAuthorizer

    admin, tokens = services
    authorizer = TokenAuthorizer(Root())
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
        tally("races run (test_races.py)")
        assert late_allows == []
        final = authorizer(event)
        assert final["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_races_revoke_vs_revoke_exactly_one_wins(services):
    admin, tokens = services
    for round_ in range(5):
        _, me, token_id = user_with_token(admin, tokens, f"double{round_}@example.com", "victim")
        results = together([(lambda me=me, i=token_id: tokens.delete_account_token(me, i)) for _ in range(4)])
        tally("races run (test_races.py)")
        assert results.count(None) == 1, results
        assert all(isinstance(r, NotFound) for r in results if r is not None)
        assert assert_tokens_consistent() == {}


def test_races_parallel_rotations_make_exactly_one_successor(services):
    """Issue 16: never two live successors, never none."""
    admin, tokens = services
    for round_ in range(3):
        user, me, old_id = user_with_token(admin, tokens, f"rotator{round_}@example.com", "ci")
        results = together([
            (lambda me=me, i=old_id: tokens.rotate_account_token(me, i, grace_period_seconds=600))
            for _ in range(THREADS)
        ])
        tally("races run (test_races.py)")
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
    authorizer = TokenAuthorizer(Root())
    for round_, max_uses in enumerate((1, 5)):
        user = admin.create_user(f"limited{round_}@example.com")
        created = tokens.create_account_token(principal_of(user), max_uses=max_uses)
        event = {"methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/GET/api/v3/user",
                 "headers": {"api-token": created.value}}
        results = together([(lambda event=event: authorizer(event)) for _ in range(THREADS)])
        tally("races run (test_races.py)")
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


# -- uploads (issue 11): concurrent reports of one commit -----------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def uploads(services):
    import json

    from chalicelib.api.v3_commits import coverage_body

    admin, _ = services
    widgets = RepositoryRef("gh", "racers", "widgets")
    repo = admin.create_repository(widgets) if admin.create_organization("gh", "racers") else None
    project = Principal(Kind.PROJECT, 1, repository=RepositoryRef.of(repo))
    service = admin.upload_service
    committed = []  # the digest of each report whose conditional write won, in order
    real_put = service.store.put_readback
    lock = threading.Lock()

    def put_readback(item, read_version, marker=None):
        with lock:  # the write and its record in one step: the order is the writes' order
            won = real_put(item, read_version, marker)
            if won:
                committed.append(item.summary["reports"][-1]["digest"])
            return won

    service.store.put_readback = put_readback

    def send(files, language="python", partial=False):
        body = {"fileReports": [{"filename": name, "coverage": {"1": 1}} for name in files]}
        return lambda: service.upload_coverage(project, None, COMMIT, language, partial, body,
                                               json.dumps(body).encode())

    def read():
        return coverage_body(service.coverage(project, RepositoryRef("gh", "racers", "widgets"), COMMIT))["data"]

    read.committed = committed
    return send, read


def test_races_complete_reports_of_one_language_leave_exactly_the_last_one(uploads):
    send, read = uploads
    for round_ in range(3):
        reports = [[f"r{round_}-t{i}-{n}.py" for n in range(3)] for i in range(4)]
        results = together([send(files) for files in reports])
        tally("races run (test_races.py)")
        assert all(isinstance(r, str) for r in results), results  # none refused, none lost
        data = read()
        kept = [r for r in data["reports"] if r["language"] == "python"]
        assert len(kept) == 1
        # The survivor is whole and alone: its files, none of the others'.
        names = sorted(f["filename"] for f in data["files"])
        assert names in [sorted(files) for files in reports]
        assert data["total"]["files"] == 3
        # ...and it is the later one: the report whose write was the last to win.
        assert data["reports"][-1]["receivedAt"] and read.committed[-1] == read_digest(read)


def read_digest(read) -> str:
    """The digest of the report the commit keeps (from the stored read-back)."""
    from chalicelib.models.uploads import COVERAGE, UploadItem, commit_sk
    from chalicelib.store.directory import DirectoryStore

    repository_id = int(DirectoryStore().repository(RepositoryRef("gh", "racers", "widgets")).repository_id)
    item = UploadItem.get(f"repo#{repository_id}", commit_sk(COMMIT, COVERAGE), consistent_read=True)
    return item.summary["reports"][-1]["digest"]


def test_races_partial_reports_are_all_merged(uploads):
    send, read = uploads
    reports = [[f"p{i}-{n}.py" for n in range(2)] for i in range(6)]
    results = together([send(files, partial=True) for files in reports])
    tally("races run (test_races.py)")
    assert all(isinstance(r, str) for r in results), results
    data = read()
    assert len(data["reports"]) == 6 and data["total"]["files"] == 12
