"""For tests/test_contract.py: a request answered with each documented status
by each public route of issue 15 (whose own checks are the authorization:
a CI identity token, GitHub's signature, a token's value)."""
import json

from tests.github_keys import LocalGithubKeys, report
from tests.helpers import Clock
from tests.keyless_world import github_claims, install, keyless_settings
from tests.oidc_issuer import LocalIssuer

_servers: dict = {}


def _issuer() -> LocalIssuer:
    if "issuer" not in _servers:
        _servers["issuer"] = LocalIssuer().start()
    return _servers["issuer"]


def _github_keys() -> LocalGithubKeys:
    if "keys" not in _servers:
        _servers["keys"] = LocalGithubKeys().__enter__()
    return _servers["keys"]


def _send(client, method, path, body, headers=None):
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return client.http.request(method, path, headers={"content-type": "application/json", **(headers or {})},
                               body=raw)


def _broken(monkeypatch, module):
    def fail():
        raise RuntimeError("injected by test_contract")

    monkeypatch.setattr(module, "services", fail)


def exchange(status, client, callers, monkeypatch):
    from chalicelib.access import Principal
    from chalicelib.api import keyless
    from chalicelib.errors import Unavailable
    from chalicelib.repository_ref import RepositoryRef
    from chalicelib.token_format import Kind

    path = "/api/v3/oidc/token"
    issuer, clock = _issuer(), Clock()
    publishers, service = install(monkeypatch, keyless_settings(issuer.issuer), clock)
    boss = callers.make.admin.user("org-admin@example.com")
    principal = Principal(Kind.ACCOUNT, token_id=1, user_id=int(boss.user_id))
    widgets = RepositoryRef("gh", "acme", "widgets")
    plain = [p for p in publishers.store.of_repository(widgets)
             if (p.subject, p.owner_id, p.workflow, p.environment) == ("2002", "1001", None, None)]
    if not plain:
        publishers.create(principal, widgets,
                          {"issuer": "github", "repositoryId": 2002, "repositoryOwnerId": 1001})

    def token(**claims):
        return issuer.mint(github_claims(**claims), now=clock.now.timestamp())

    if status == 201:
        return _send(client, "POST", path, {"token": token()})
    if status == 400:
        return _send(client, "POST", path, b"[]")
    if status == 401:
        return _send(client, "POST", path, {"token": token(aud="someone-else")})
    if status == 403:
        return _send(client, "POST", path, {"token": token(repository_id="9")})
    if status == 409:
        replayed = token()
        _send(client, "POST", path, {"token": replayed})
        return _send(client, "POST", path, {"token": replayed})
    if status == 413:
        return _send(client, "POST", path, b"{" + b" " * (16 * 1024) + b"}")
    if status == 500:
        _broken(monkeypatch, keyless)
        return _send(client, "POST", path, {"token": token()})
    if status == 503:
        def unavailable(*args, **kwargs):
            raise Unavailable()

        monkeypatch.setattr(service.publishers, "trusting", unavailable)
        return _send(client, "POST", path, {"token": token()})
    raise LookupError(status)


def secret_scanning(status, client, callers, monkeypatch):
    from chalicelib import wiring
    from chalicelib.api import leaks
    from chalicelib.secret_scanning import GithubKeys

    path = "/api/v3/secret-scanning/github"
    keys = _github_keys()
    wiring.root().github_keys = GithubKeys(keys.url)
    body = report("lka_unknown")
    if status == 200:
        return _send(client, "POST", path, body, keys.sign(body))
    if status == 400:
        return _send(client, "POST", path, b"{}", keys.sign(b"{}"))
    if status == 401:
        return _send(client, "POST", path, body)
    if status == 403:
        return _send(client, "POST", path, body, keys.sign(b"[]"))
    if status == 413:
        return _send(client, "POST", path, b"[" + b" " * (4 * 1024 * 1024) + b"]")
    if status == 500:
        _broken(monkeypatch, leaks)
        return _send(client, "POST", path, body, keys.sign(body))
    if status == 503:
        keys.fail = True
        try:
            return _send(client, "POST", path, body, keys.sign(body))
        finally:
            keys.fail = False
    raise LookupError(status)


def revoke(status, client, callers, monkeypatch):
    from chalicelib.api import leaks
    from chalicelib.errors import Unavailable
    from chalicelib.store.publishers import ClaimStore

    path = "/api/v3/credentials/revoke"
    monkeypatch.setattr(leaks, "revoke_limit", lambda: 10_000)
    body = {"credentials": ["lka_unknown"]}
    if status == 202:
        return _send(client, "POST", path, body)
    if status == 400:
        return _send(client, "POST", path, {"credentials": []})
    if status == 413:
        return _send(client, "POST", path, b"{" + b" " * (256 * 1024) + b"}")
    if status == 429:
        monkeypatch.setattr(ClaimStore, "hit", lambda self, *args, **kwargs: False)
        return _send(client, "POST", path, body)
    if status == 500:
        _broken(monkeypatch, leaks)
        return _send(client, "POST", path, body)
    if status == 503:
        def unavailable(self, *args, **kwargs):
            raise Unavailable()

        monkeypatch.setattr(ClaimStore, "hit", unavailable)
        return _send(client, "POST", path, body)
    raise LookupError(status)


SCENARIOS = {
    ("POST", "/api/v3/oidc/token"): exchange,
    ("POST", "/api/v3/secret-scanning/github"): secret_scanning,
    ("POST", "/api/v3/credentials/revoke"): revoke,
}
