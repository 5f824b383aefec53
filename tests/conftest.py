"""Shared fixtures: moto-backed tables, the real services, a Chalice test
client, and factories for users, repositories and tokens.

The environment is set before anything imports `chalicelib`: PynamoDB reads
table names when the models are imported.
"""
import os

for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    TOKENS_TABLE="latchkey-dev-tokens",
    DIRECTORY_TABLE="latchkey-dev-directory",
    UPLOADS_TABLE="latchkey-dev-uploads",
    UPLOADS_BUCKET="latchkey-dev-uploads",
    AUDIT_TABLE="latchkey-dev-audit",
)

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.access import Principal  # noqa: E402
from chalicelib.token_format import Kind  # noqa: E402
from tests.isolation_rows import CALLER_KINDS  # noqa: E402


@pytest.fixture
def aws():
    """Fresh in-process DynamoDB/S3 with the service's tables."""
    with mock_aws():
        from chalicelib.store.tables import ensure_tables

        ensure_tables()
        yield


@pytest.fixture
def admin(aws):
    from chalicelib.services.admin import AdminService

    return AdminService()


@dataclass
class Made:
    """Factories over the real services (what an operator or user would do)."""

    admin: object

    def user(self, email="alice@example.com", **grants) -> "UserHandle":
        user = self.admin.create_user(email)
        return UserHandle(self, email, int(user.user_id))

    def org(self, full="gh/acme"):
        provider, org = full.split("/")
        if self.admin.store.organization(provider, org) is None:
            self.admin.create_organization(provider, org)

    def repo(self, full="gh/acme/widgets"):
        provider, org, repo = full.split("/")
        self.org(f"{provider}/{org}")
        self.admin.create_repository(provider, org, repo)
        return full

    def repository_id(self, full="gh/acme/widgets") -> int:
        """The repository's immutable id (what its tokens, uploads and trail are keyed by)."""
        provider, org, repo = full.split("/")
        return int(self.admin.store.repository(provider, org, repo).repository_id)

    def project_token(self, repo="gh/acme/widgets", **kwargs) -> str:
        """A project token of `repo`, created by a throwaway org admin."""
        provider, org, name = repo.split("/")
        owner = self.user(f"owner-{len(repo)}-{os.urandom(4).hex()}@example.com")
        owner.grant(f"{provider}/{org}", "admin")
        created = self.admin.tokens.create_project_token(owner.principal(), provider, org, name, **kwargs)
        return created.value


@dataclass
class UserHandle:
    made: Made
    email: str
    user_id: int

    def grant(self, target, role):
        self.made.admin.grant(self.email, target, role)
        return self

    def token(self, **kwargs) -> str:
        return self.made.admin.tokens.issue_account_token(self.made.admin.user(self.email), **kwargs).value

    def principal(self) -> Principal:
        return Principal(Kind.ACCOUNT, token_id=1, user_id=self.user_id)


@pytest.fixture
def make(admin):
    return Made(admin)


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev") as test_client:
        yield test_client


class Api:
    """Small helper over chalice.test.Client: JSON in, (status, JSON) out."""

    def __init__(self, client):
        self.client = client

    def call(self, method, path, token=None, header=None, body=None, headers=None):
        sent = dict(headers or {})
        if token is not None:
            sent[header or ("project-token" if token.startswith("lkp_") else "api-token")] = token
        raw = b""
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("content-type", "application/json")
        response = self.client.http.request(method, path, headers=sent, body=raw)
        text = response.body.decode() if response.body else ""
        return response.status_code, (json.loads(text) if text else None)

    def get(self, path, token=None, **kwargs):
        return self.call("GET", path, token, **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.call("POST", path, token, **kwargs)

    def delete(self, path, token=None, **kwargs):
        return self.call("DELETE", path, token, **kwargs)


@pytest.fixture
def api(client):
    return Api(client)


# -- the whole service over HTTP (scripts/run_local.py as a subprocess) --------

@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    """`make run` on free ports with its own state file, and its demo data
    (gh/demo/hello, whose admin holds `.account`; `.project` is its token)."""
    from tests.localserver import LocalServer

    server = LocalServer(tmp_path_factory.mktemp("local") / "state.json").start()
    yield server
    server.stop()


@pytest.fixture
def clock():
    """A movable clock (tests.helpers.Clock) for the code under test."""
    from tests.helpers import Clock

    return Clock()


@pytest.fixture
def faults(monkeypatch):
    """Record AWS calls and fail chosen ones (see tests/faults.py)."""
    from tests.faults import Faults

    return Faults().install(monkeypatch)


def reset_aws_connections() -> None:
    """Drop PynamoDB's cached connections so the next call builds a client
    for the current endpoint (AWS_ENDPOINT_URL) or mock."""
    from pynamodb.models import Model

    from chalicelib.store import tokens, uploads

    pending = [Model]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Model:
            cls._connection = None
    tokens._touch_connection.cache_clear()
    uploads.s3_client.cache_clear()


@pytest.fixture
def moto_server(monkeypatch):
    """A real moto server on a free 127.0.0.1 port, with the service's tables,
    for tests that need real HTTP and many threads.

    moto applies a DynamoDB call in several Python steps with no lock, which
    DynamoDB does atomically per item and per transaction: each call is
    serialized here as in `make run` (scripts/local_aws.py), so races
    observed are the service's, not moto's.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.server import ThreadedMotoServer

    from scripts.local_aws import serialised_operations

    for name, method in serialised_operations().items():
        monkeypatch.setattr(DynamoDBBackend, name, method)
    from tests.localserver import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    reset_aws_connections()
    try:
        from chalicelib.store.tables import ensure_tables

        ensure_tables()
        yield url
    finally:
        server.stop()
        reset_aws_connections()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # the next test starts from empty tables


def pytest_terminal_summary(terminalreporter):
    """What the tests counted on their way (`tests.helpers.tally`): faults
    injected, races run, matrix cells, cases fuzzed."""
    from tests.helpers import TALLY

    if TALLY:
        terminalreporter.section("counted")
        for what, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{what}: {count}")


# -- callers of every kind (the isolation matrix and the contract tests) ------

@dataclass
class Callers:
    """One token (or header set) per kind of caller, around repository
    gh/acme/widgets; `victim` is a user none of them may touch."""

    make: Made
    headers_of: dict

    def headers(self, kind: str) -> dict:
        return dict(self.headers_of[kind])

    def project_token_id(self, repo: str = "gh/acme/widgets") -> int:
        """The id of a fresh project token of `repo` (a target for deletes)."""
        provider, org, name = repo.split("/")
        boss = self.make.admin.user("org-admin@example.com")
        principal = Principal(Kind.ACCOUNT, token_id=1, user_id=int(boss.user_id))
        return int(self.make.admin.tokens.create_project_token(principal, provider, org, name).token.token_id)

    def victim_token_id(self) -> int:
        return self.account_token_id("victim@example.com")

    def account_token_id(self, email: str) -> int:
        """The id of a fresh account token of `email`."""
        user = self.make.admin.user(email)
        return int(self.make.admin.tokens.issue_account_token(user).token.token_id)


@pytest.fixture
def callers(make, admin):
    return build_callers(make, admin)


def build_callers(make, admin) -> Callers:
    from datetime import timedelta

    from chalicelib.clock import utcnow
    from chalicelib.models.tokens import Token
    from chalicelib.token_format import digest

    make.repo("gh/acme/widgets")
    make.repo("gh/acme/doomed")
    make.repo("gh/other/thing")
    make.user("victim@example.com")
    roles = {"read": "read", "write": "write", "repo_admin": "admin"}
    account = {}
    for kind in ("no_access", "read", "write", "repo_admin", "org_admin", "revoked", "expired", "disabled_owner"):
        user = make.user(f"{kind.replace('_', '-')}@example.com")
        if kind in roles:
            user.grant("gh/acme/widgets", roles[kind])
        elif kind == "org_admin":
            user.grant("gh/acme", "admin")
        elif kind != "no_access":
            user.grant("gh/acme/widgets", "admin")
        account[kind] = user.token()
    revoked = Token.get(digest(account["revoked"]))
    admin.tokens.tokens.delete(revoked)
    Token.get(digest(account["expired"])).update(actions=[Token.expires_at.set(utcnow() - timedelta(minutes=1))])
    admin.disable_user("disabled-owner@example.com")
    doomed = make.project_token("gh/acme/doomed")
    admin.delete_repository("gh", "acme", "doomed")
    own = make.project_token("gh/acme/widgets")
    valid = account["read"]
    wrong = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    headers = {
        "none": {},
        "garbage": {"api-token": "not-a-token"},
        "wrong_checksum": {"api-token": wrong},
        "revoked": {"api-token": account["revoked"]},
        "expired": {"api-token": account["expired"]},
        "disabled_owner": {"api-token": account["disabled_owner"]},
        "deleted_repo": {"project-token": doomed},
        "other_project": {"project-token": make.project_token("gh/other/thing")},
        "own_project": {"project-token": own},
        "two_tokens": {"api-token": account["org_admin"], "project-token": own},
    }
    for kind in ("no_access", "read", "write", "repo_admin", "org_admin"):
        headers[kind] = {"api-token": account[kind]}
    assert set(headers) == set(CALLER_KINDS)
    # Issue 16: project tokens of widgets limited to one scope each.
    for scope in ("coverage:write", "analysis:write", "repository:read"):
        headers[f"scope:{scope}"] = {"project-token": make.project_token("gh/acme/widgets", scopes=[scope])}
    return Callers(make, headers)
