"""Helpers shared by the test modules (a test module never imports another).

- `Clock`: the one movable clock the services, the authorizer and the
  verifiers take in tests.
- `shell_environ`: the environment of a process the tests start.
- `JsonServer`, `JsonHandler`: a JSON endpoint on a free 127.0.0.1 port
  (GitHub's secret-scanning keys, an OIDC issuer).
- `tally`: counts a test wants on record (faults injected, races run, cases
  fuzzed); `conftest.pytest_terminal_summary` prints them after the run.
- `Made` (factories for users, repositories and tokens over the real
  services), `Api` (JSON in, (status, JSON) out over chalice.test.Client),
  `build_callers` (a token per kind of caller): behind conftest.py's `make`,
  `api` and `callers` fixtures, and for modules that build one world for all
  their tests.
- The API's routes as the contract tests see them: which are the web
  console's, the OpenAPI document, its operations, routes compared by shape.
"""
import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chalicelib.access import Principal
from chalicelib.repository_ref import RepositoryRef
from chalicelib.token_format import Kind
from tests.isolation_rows import CALLER_KINDS

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Clock:
    """Now, as the code under test sees it: call it for the time; `advance`
    moves it (`clock.advance(90)`, `clock.advance(minutes=15)`). Whole
    seconds, as tokens store them."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **delta) -> None:
        self.now += timedelta(seconds=seconds, **delta)


# -- the environment of a process the tests start ----------------------------------

def shell_environ(*, fake_aws: bool = False, **extra) -> dict:
    """This environment as a new shell would give it: without the AWS settings
    (endpoint, profile, account), the stage's table and bucket names or the OIDC
    settings that conftest.py and the tests set here; with `fake_aws`,
    conftest.py's fake account and region again; then `extra`."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("AWS_", "OIDC_")) and not name.endswith(("_TABLE", "_BUCKET"))
               and name != "LATCHKEY_RESOURCE_PREFIX"}
    if fake_aws:
        environ.update({name: os.environ[name] for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                                                            "AWS_SECRET_ACCESS_KEY")})
    environ.update(extra)
    return environ


# -- JSON endpoints on 127.0.0.1 ----------------------------------------------------

class JsonHandler(BaseHTTPRequestHandler):
    """An http.server handler that answers JSON and logs nothing."""

    def send_json(self, status: int, body) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


class JsonServer:
    """`handler` served on a free 127.0.0.1 port from a daemon thread; `port`
    is known from the start. `start()`/`stop()`, or use it as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        # shutdown() waits for the serving loop's next poll: 0.5 s by default, per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -- counts on record ------------------------------------------------------------

TALLY: Counter = Counter()


def tally(what: str, count: int = 1) -> None:
    """Add `count` to `what` (printed in the terminal summary, see conftest.py)."""
    TALLY[what] += count


# -- the API's routes --------------------------------------------------------------

DOCUMENT = json.loads((PROJECT_DIR / "chalicelib" / "openapi.json").read_text())

# Documented, implemented on another branch. Empty since every branch is
# merged; a route documented but not implemented must now be implemented.
PENDING_ROUTES: set[tuple[str, str]] = set()


def is_web_console(path: str) -> bool:
    """Routes of the web console (HTML for people), not of the API: the OpenAPI
    contract and the token isolation matrix leave them to tests/test_console.py."""
    return path == "/docs" or path.startswith(("/console", "/static/"))


def normalized(path: str) -> str:
    """A route path with every parameter name erased: `{x}` -> `{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def by_shape(routes) -> set[tuple[str, str]]:
    """(method, path) pairs with their parameter names erased (see `normalized`)."""
    return {(method, normalized(path)) for method, path in routes}


def implemented_routes() -> set[tuple[str, str]]:
    """Every route of the API (the console's HTML pages, /docs and /static are
    the web console, not the API: tests/test_console.py holds them)."""
    from app import app

    return {(method, path) for path, methods in app.routes.items() for method in methods
            if not is_web_console(path)}


def documented_routes() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method in operations}


def resolve(node):
    """`node` with every local `$ref` of the document replaced by its target."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = DOCUMENT
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value) for value in node]
    return node


def operation(method: str, route: str) -> dict:
    """The document's operation for `method route` (any parameter names), resolved."""
    for path, operations in DOCUMENT["paths"].items():
        if normalized(path) == normalized(route) and method.lower() in operations:
            return resolve(operations[method.lower()])
    raise KeyError((method, route))


# -- factories, the test client, callers of every kind ----------------------------

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
        repository = RepositoryRef.parse(full)
        self.org(repository.organization)
        self.admin.create_repository(repository)
        return full

    def repository_id(self, full="gh/acme/widgets") -> int:
        """The repository's immutable id (what its tokens, uploads and trail are keyed by)."""
        provider, org, repo = full.split("/")
        return int(self.admin.store.repository(RepositoryRef(provider, org, repo)).repository_id)

    def project_token(self, repo="gh/acme/widgets", **kwargs) -> str:
        """A project token of `repo`, created by a throwaway org admin."""
        repository = RepositoryRef.parse(repo)
        owner = self.user(f"owner-{len(repo)}-{os.urandom(4).hex()}@example.com")
        owner.grant(repository.organization, "admin")
        created = self.admin.tokens.create_project_token(owner.principal(), repository, **kwargs)
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
        boss = self.make.admin.user("org-admin@example.com")
        principal = Principal(Kind.ACCOUNT, token_id=1, user_id=int(boss.user_id))
        return int(self.make.admin.tokens.create_project_token(principal, RepositoryRef.parse(repo)).token.token_id)

    def victim_token_id(self) -> int:
        return self.account_token_id("victim@example.com")

    def account_token_id(self, email: str) -> int:
        """The id of a fresh account token of `email`."""
        user = self.make.admin.user(email)
        return int(self.make.admin.tokens.issue_account_token(user).token.token_id)


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
    admin.delete_repository(RepositoryRef("gh", "acme", "doomed"))
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
