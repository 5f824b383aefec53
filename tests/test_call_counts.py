"""Exact storage calls per request (issue 6, item 1), counted through
botocore's event hooks while requests go through chalice.test.Client.

The physical limit of token validation is one key-value read: an authorized
request costs exactly one GetItem on the tokens table in the authorizer,
plus what its route needs (listed per route below); the `lastUsedAt` write
happens at most once per token per interval; a token rejected by its format
or checksum costs nothing at all.
"""
from datetime import timedelta

import pytest

from bench.calls import count_calls
from chalicelib import token_format, wiring
from chalicelib.authorizer import TokenAuthorizer
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings
from chalicelib.wiring import Root
from tests.helpers import Clock

TOKENS = get_settings().tokens_table
DIRECTORY = get_settings().directory_table
TOKEN_READ = f"dynamodb.GetItem({TOKENS})"
TOUCH = f"dynamodb.UpdateItem({TOKENS})"


@pytest.fixture
def clock(monkeypatch):
    """The authorizer Lambda's clock, movable."""
    moving = Clock()
    wiring.root().authorizer = TokenAuthorizer(Root(clock=moving))
    return moving


@pytest.fixture
def counted(api, make, clock):
    """`counted(method, path, token)` → (status, Counter of calls).

    A throwaway user makes one request of each kind first, so that every
    client (PynamoDB's per model, the "last used" one) exists before counting.
    """
    warm = make.user("warm@example.com").token()
    api.get("/api/v3/user", warm)
    api.get("/api/v3/user/tokens", warm)

    def run(method, path, token=None, header=None):
        with count_calls() as calls:
            status, body = api.call(method, path, token, header=header)
        run.body = body
        return status, calls.summary()

    return run


def forged(token: str) -> str:
    """The same token with one body character changed: its checksum no longer matches."""
    body_at = 4
    changed = "A" if token[body_at] != "A" else "B"
    return token[:body_at] + changed + token[body_at + 1:]


def test_call_counts_authorized_get_user_is_one_token_read_plus_route(counted, make):
    token = make.user().token()
    counted("GET", "/api/v3/user", token)  # first use: records lastUsedAt
    status, calls = counted("GET", "/api/v3/user", token)
    assert status == 200
    assert calls == {TOKEN_READ: 1, f"dynamodb.GetItem({DIRECTORY})": 1}


def test_call_counts_first_use_writes_last_used_once(counted, make):
    token = make.user().token()
    status, calls = counted("GET", "/api/v3/user", token)
    assert status == 200
    assert calls == {TOKEN_READ: 1, TOUCH: 1, f"dynamodb.GetItem({DIRECTORY})": 1}


def test_call_counts_last_used_written_at_most_once_per_interval(counted, make, clock):
    token = make.user().token()
    interval = get_settings().last_used_interval_seconds
    start = clock.now
    offsets = [0, 1, interval - 1, interval, interval + 1, 2 * interval - 1, 2 * interval]
    writes = []
    for offset in offsets:
        clock.now = start + timedelta(seconds=offset)
        status, calls = counted("GET", "/api/v3/user", token)
        assert status == 200 and calls[TOKEN_READ] == 1
        writes.append(calls[TOUCH])
    # A write at first use, none until the interval has passed since that
    # write, then one, and so on.
    assert writes == [1, 0, 0, 1, 0, 0, 1]


@pytest.mark.parametrize("raw", ["garbage", "lka_" + "A" * 33, "lka_" + "0" * 40, "Bearer x"])
def test_call_counts_malformed_token_costs_nothing(counted, aws, raw):
    status, calls = counted("GET", "/api/v3/user", raw)
    assert status == 404
    assert calls == {}


def test_call_counts_forged_token_costs_nothing(counted, make):
    token = make.user().token()
    assert token_format.parse(forged(token)) is None
    status, calls = counted("GET", "/api/v3/user", forged(token))
    assert status == 404
    assert calls == {}


def test_call_counts_no_token_costs_nothing(counted, aws):
    status, calls = counted("GET", "/api/v3/user")
    assert status == 401
    assert calls == {}


def test_call_counts_unknown_well_formed_token_is_one_read(counted, aws):
    # A well-formed token with a valid checksum that was never issued: only
    # the read can tell (the checksum is public), and it is the only call.
    status, calls = counted("GET", "/api/v3/user", token_format.generate(token_format.Kind.ACCOUNT))
    assert status == 404
    assert calls == {TOKEN_READ: 1}


def test_call_counts_repository_by_account_token_is_one_batch_read(counted, make):
    repo = make.repo("gh/acme/widgets")
    token = make.user().grant(repo, "admin").token()
    counted("GET", "/api/v3/user", token)
    status, calls = counted("GET", "/api/v3/organizations/gh/acme/repositories/widgets", token)
    assert status == 200
    assert calls == {TOKEN_READ: 1, f"dynamodb.BatchGetItem({DIRECTORY})": 1}


def repository_read_by_project_token(counted, make, **limits):
    """(status, calls) of a project token's second read of its repository."""
    token = make.project_token(make.repo("gh/acme/widgets"), **limits)
    path = "/api/v3/organizations/gh/acme/repositories/widgets"
    counted("GET", path, token)
    return counted("GET", path, token)


def test_call_counts_repository_by_project_token_is_one_read(counted, make):
    answer = repository_read_by_project_token(counted, make)
    assert answer == (200, {TOKEN_READ: 1, f"dynamodb.GetItem({DIRECTORY})": 1})


@pytest.mark.slow  # 100 tokens made first
def test_call_counts_listing_100_account_tokens_is_one_query_per_page(counted, make):
    alice = make.user()
    token = alice.token()
    for _ in range(99):
        alice.token()
    counted("GET", "/api/v3/user", token)
    # token, user, one Query on owner-index, the owner's counter (the total)
    listing = {TOKEN_READ: 2, f"dynamodb.GetItem({DIRECTORY})": 1, f"dynamodb.Query({TOKENS})": 1}
    status, calls = counted("GET", "/api/v3/user/tokens", token)
    assert (status, calls) == (200, listing)
    assert len(counted.body["data"]) == 100 and counted.body["pagination"]["total"] == 100
    status, calls = counted("GET", "/api/v3/user/tokens?limit=60", token)
    assert (status, calls) == (200, listing)
    cursor = counted.body["pagination"]["cursor"]
    status, calls = counted("GET", f"/api/v3/user/tokens?limit=60&cursor={cursor}", token)
    assert (status, calls) == (200, listing)
    assert len(counted.body["data"]) == 40 and "cursor" not in counted.body["pagination"]


@pytest.mark.slow  # 100 tokens made first
def test_call_counts_listing_100_project_tokens_is_one_query_per_page(counted, make, admin):
    repo = make.repo("gh/acme/widgets")
    owner = make.user().grant(repo, "admin")
    token = owner.token()
    for _ in range(100):
        admin.tokens.create_project_token(owner.principal(), RepositoryRef("gh", "acme", "widgets"))
    path = "/api/v3/organizations/gh/acme/repositories/widgets/tokens"
    counted("GET", "/api/v3/user", token)
    # token, one BatchGetItem for the access decision, one Query, the counter
    listing = {TOKEN_READ: 2, f"dynamodb.BatchGetItem({DIRECTORY})": 1, f"dynamodb.Query({TOKENS})": 1}
    status, calls = counted("GET", path + "?limit=50", token)
    assert (status, calls) == (200, listing)
    assert len(counted.body["data"]) == 50 and counted.body["pagination"]["total"] == 100
    cursor = counted.body["pagination"]["cursor"]
    status, calls = counted("GET", f"{path}?limit=50&cursor={cursor}", token)
    assert (status, calls) == (200, listing)
    assert len(counted.body["data"]) == 50 and "cursor" not in counted.body["pagination"]


# -- read-backs (issue 11): the same calls whatever the commit holds -----------

UPLOADS = get_settings().uploads_table
BUCKET = get_settings().uploads_bucket
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _readback_calls(counted, token, path):
    counted("GET", path, token)
    status, calls = counted("GET", path, token)
    assert status == 200
    return calls


@pytest.mark.parametrize("what", ["coverage", "analysis"])
def test_call_counts_read_back_is_one_item_and_one_ranged_read_at_any_size(counted, make, api, what):
    import json

    repo = make.repo("gh/acme/widgets")
    reader = make.user().grant(repo, "read").token()
    project = make.project_token(repo)
    path = f"/api/v3/organizations/gh/acme/repositories/widgets/commits/{COMMIT}/{what}"
    def upload(n):
        names = [f"f{n}-{i}.py" for i in range(50)]
        if what == "coverage":
            return (f"/2.0/coverage/{COMMIT}/python?partial=true",
                    {"fileReports": [{"filename": name, "coverage": {"1": 1}} for name in names]})
        issue = {"patternId": {"value": "p"}, "message": "m", "level": "Info",
                 "location": {"LineLocation": {"line": 1}}}
        return (f"/2.0/commit/{COMMIT}/issuesRemoteResults", [{"tool": "eslint", "issues": {"Success": {"results": [
            {"filename": name, "results": [{"Issue": {**issue, "filename": name}}]} for name in names]}}}])

    upload_path, body = upload(0)
    api.post(upload_path, project, body=body)
    small = _readback_calls(counted, reader, path)
    for n in range(1, 8):
        upload_path, body = upload(n)
        assert api.post(upload_path, project, body=body)[0] == 200
    large = _readback_calls(counted, reader, path)
    expected = {TOKEN_READ: 1, f"dynamodb.BatchGetItem({DIRECTORY})": 1, f"dynamodb.GetItem({UPLOADS})": 1,
                f"s3.GetObject({BUCKET})": 1}
    assert small == large == expected
    assert len(counted.body["data"]["files" if what == "coverage" else "issuesByFile"]) == 100
    assert json.loads(json.dumps(counted.body))["pagination"]["total"] == 400
# -- the lifecycle (issue 16): limits cost nothing but maxUses' one write ---------


def test_call_counts_scoped_cidr_token_is_still_one_read(counted, make):
    answer = repository_read_by_project_token(counted, make, scopes=["repository:read"],
                                              allowed_cidrs=["127.0.0.0/8", "2001:db8::/32"])
    assert answer == (200, {TOKEN_READ: 1, f"dynamodb.GetItem({DIRECTORY})": 1})


def test_call_counts_max_uses_token_adds_one_conditional_update(counted, make):
    token = make.user().token(max_uses=10)
    first = counted("GET", "/api/v3/user", token)
    # The use count and the first "last used" are one write...
    assert first == (200, {TOKEN_READ: 1, TOUCH: 1, f"dynamodb.GetItem({DIRECTORY})": 1})
    # ...and every later use is that one write too, however recent the last.
    assert counted("GET", "/api/v3/user", token) == (200, {TOKEN_READ: 1, TOUCH: 1,
                                                           f"dynamodb.GetItem({DIRECTORY})": 1})


def test_call_counts_used_up_token_is_one_read_and_the_refused_update(counted, make):
    token = make.user().token(max_uses=1)
    counted("GET", "/api/v3/user", token)
    status, calls = counted("GET", "/api/v3/user", token)
    assert status == 404
    assert calls == {TOKEN_READ: 1, TOUCH: 1}


def test_call_counts_rotated_token_in_grace_is_one_read(counted, make, admin):
    alice = make.user()
    old = alice.token()
    counted("GET", "/api/v3/user", old)
    token_id = int(admin.tokens.tokens.find(token_format.digest(old)).token_id)
    admin.tokens.rotate_account_token(alice.principal(), token_id, grace_period_seconds=600)
    status, calls = counted("GET", "/api/v3/user", old)
    assert status == 200
    assert calls == {TOKEN_READ: 1, f"dynamodb.GetItem({DIRECTORY})": 1}
