"""The OpenAPI document (`chalicelib/openapi.json`) against the implementation.

- every implemented route is documented (hard failure);
- every documented route is implemented, or listed in `PENDING_ROUTES`
  (tests/helpers.py: routes of branches not merged yet); a route both implemented and still
  pending fails, so the list only shrinks — the lead empties it after merging;
- every documented answer of every implemented route is produced here by a
  real request through chalice.test.Client, and its body matches the
  documented schema.
"""
import json
import os

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import (
    DOCUMENT,
    PENDING_ROUTES,
    by_shape,
    documented_routes,
    implemented_routes,
    normalized,
    operation,
    resolve,
    tally,
)
from tests.isolation_rows import CALLER_KINDS, ROWS, deleted_id, expected_row

# Bodies past each route's limit (413).
TOO_LARGE = {"/api/v3": 16 * 1024 + 1, "/2.0": 6_000_000 + 1,
             "/api/v3/organizations/{provider}/{org}/repositories/{repo}/analysis/configuration": 256 * 1024 + 1}


# -- the document and the routes ----------------------------------------------

def test_openapi_document_is_valid_openapi():
    from openapi_spec_validator import validate

    validate(DOCUMENT)


def test_openapi_every_implemented_route_is_documented():
    missing = sorted(by_shape(implemented_routes()) - by_shape(documented_routes()))
    assert not missing, f"implemented but not in chalicelib/openapi.json: {missing}"


def test_openapi_every_documented_route_is_implemented_or_pending():
    unimplemented = by_shape(documented_routes()) - by_shape(implemented_routes())
    unexplained = sorted(unimplemented - by_shape(PENDING_ROUTES))
    assert not unexplained, f"documented, not implemented, not in PENDING_ROUTES: {unexplained}"
    tally("OpenAPI operations documented", len(documented_routes()))
    tally("OpenAPI operations pending", len(unimplemented))


def test_openapi_pending_routes_only_shrink():
    done = sorted(by_shape(PENDING_ROUTES) & by_shape(implemented_routes()))
    assert not done, f"implemented now: remove from PENDING_ROUTES: {done}"
    undocumented = sorted(by_shape(PENDING_ROUTES) - by_shape(documented_routes()))
    assert not undocumented, f"PENDING_ROUTES not in the document: {undocumented}"


def test_openapi_every_failure_is_documented_as_an_error():
    for method, path in documented_routes():
        for status, answer in operation(method, path)["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema["required"] == ["error"] and schema["properties"]["error"] == {"type": "string"}, (
                    method, path, status)


def test_openapi_served_without_token(api, aws):
    status, body = api.get("/openapi.json")
    assert status == 200
    assert body == DOCUMENT


# -- every documented answer is produced --------------------------------------

def documented_answers():
    """(method, route, status) for every documented answer of an implemented route."""
    implemented = by_shape(implemented_routes())
    for method, path in sorted(documented_routes()):
        if (method, normalized(path)) in implemented:
            for status in operation(method, path)["responses"]:
                yield pytest.param(method, path, int(status), id=f"{method} {path} {status}")


def _row(method, route):
    for (row_method, row_route), row in ROWS.items():
        if row_method == method and normalized(row_route) == normalized(route):
            return row
    raise LookupError(f"no isolation-matrix row for {method} {route}")


def _send(client, method, path, headers, body):
    raw = b""
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {**headers, "content-type": "application/json"}
    return client.http.request(method, path, headers=headers, body=raw)


# Where the matrix's target is not one the caller may act on.
SUCCESS_TARGETS = {
    ("DELETE", "/api/v3/user/tokens/{tokenId}"):
        lambda c: f"/api/v3/user/tokens/{c.account_token_id('org-admin@example.com')}",
    ("POST", "/api/v3/user/tokens/{tokenId}/rotate"):
        lambda c: f"/api/v3/user/tokens/{c.account_token_id('org-admin@example.com')}/rotate",
    ("PATCH", "/api/v3/user/tokens/{tokenId}"):
        lambda c: f"/api/v3/user/tokens/{c.account_token_id('org-admin@example.com')}",
}


# Answers whose success ends the caller's token: a fresh one each time.
FRESH_CALLER = {("DELETE", "/api/v3/tokens/self")}
# Bodies that conflict when sent twice (default: the same token name).
CONFLICT_BODIES = {
    ("POST", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/trusted-publishers"):
        {"issuer": "github", "repositoryId": 7, "repositoryOwnerId": 8},
}


@pytest.fixture(scope="module")
def world():
    """One moto account, client and set of callers for this module's many
    small requests (each test leaves the callers as it found them)."""
    from chalice.test import Client
    from moto import mock_aws

    from tests.helpers import Made, build_callers

    with mock_aws():
        from chalicelib.store.tables import ensure_tables
        from chalicelib.wiring import Root

        ensure_tables()
        admin = Root().admin
        callers = build_callers(Made(admin), admin)
        from app import app

        with Client(app, stage_name="dev") as client:
            yield client, callers


def _success_target(method, route):
    """The `SUCCESS_TARGETS` entry of `method route` (any parameter names), or None."""
    return next((make for (m, r), make in SUCCESS_TARGETS.items()
                 if (m, normalized(r)) == (method, normalized(route))), None)


def _succeed(client, method, route, path, callers, body):
    """A success where the matrix's caller or target would not get one (None
    where it would): a fresh caller, or a target the caller may act on."""
    if (method, route) in FRESH_CALLER:
        fresh = {"api-token": callers.make.user(f"{os.urandom(4).hex()}@x.example").token()}
        return _send(client, method, path, fresh, body)
    make_target = _success_target(method, route)
    if make_target is not None:
        return _send(client, method, make_target(callers), callers.headers("org_admin"), body)
    return None


def _conflict(client, method, route, target, callers, body):
    """409: the same token rotated twice, or the same name (or publisher) twice."""
    if route.endswith("/rotate"):
        make_target = _success_target(method, route)
        target = make_target(callers) if make_target is not None else target
    else:
        body = CONFLICT_BODIES.get((method, route), {"name": "twice"})
    _send(client, method, target, callers.headers("org_admin"), body)
    return _send(client, method, target, callers.headers("org_admin"), body)


def _too_large(client, method, route, target, callers):
    """413: a body one byte past the route's limit."""
    size = TOO_LARGE[max((prefix for prefix in TOO_LARGE if route.startswith(prefix)), key=len)]
    return _send(client, method, target, callers.headers("org_admin"), b"{" + b" " * size + b"}")


def _break(status, monkeypatch):
    """Make the next request fail inside: a bug (500) or a throttled table (503)."""
    if status == 500:
        from chalicelib.api import http

        def broken(request):
            raise RuntimeError("injected by test_contract")

        monkeypatch.setattr(http, "current_principal", broken)
    else:
        from chalicelib.errors import Unavailable
        from chalicelib.store.tokens import TokenStore

        def throttled(self, digest):
            raise Unavailable()

        monkeypatch.setattr(TokenStore, "find", throttled)


def produce(status, method, route, client, callers, monkeypatch):
    """A request answered `status` by `method route`, and the answer."""
    if route == "/openapi.json":
        return client.http.request(method, route)
    from tests.public_scenarios import SCENARIOS

    if (method, route) in SCENARIOS:
        return SCENARIOS[(method, route)](status, client, callers, monkeypatch)
    path, body, columns = _row(method, route)
    succeeded = _succeed(client, method, route, path, callers, body) if 200 <= status < 300 else None
    if succeeded is not None:
        return succeeded
    target = path(callers) if callable(path) else path
    if status == 409:
        return _conflict(client, method, route, target, callers, body)
    if status == 413:
        return _too_large(client, method, route, target, callers)
    if status in (500, 503):
        _break(status, monkeypatch)
        return _send(client, method, target, callers.headers("org_admin"), body)
    expected = expected_row(columns)
    kind = next((k for k in CALLER_KINDS if expected[k] == status), None)
    if kind is None:
        raise LookupError(f"no scenario answers {status} for {method} {route}")
    return _send(client, method, target, callers.headers(kind), body)


@pytest.mark.parametrize("method,route,status", list(documented_answers()))
def test_openapi_documented_answer_is_produced(method, route, status, world, monkeypatch):
    client, callers = world
    response = produce(status, method, route, client, callers, monkeypatch)
    assert response.status_code == status, response.body
    documented = operation(method, route)["responses"][str(status)]
    if "content" not in documented:
        assert not response.body
        return
    body = json.loads(response.body)
    Draft202012Validator(documented["content"]["application/json"]["schema"]).validate(body)
    for header, spec in documented.get("headers", {}).items():
        if resolve(spec).get("required", True):  # optional ones (the token's expiry) may be absent
            assert header in response.headers, header


def test_openapi_read_backs_with_data_match_the_document(world):
    """The read-back and events answers with content (the generic scenarios
    above mostly see empty ones) match their documented schemas."""
    from tests import upload_bodies as b

    client, callers = world
    commit = "a" * 40
    project, admin = callers.headers("own_project"), callers.headers("org_admin")
    uploads = [
        (f"/2.0/coverage/{commit}/python?partial=true", b.coverage({"src/a.py": {1: 1, 2: 0}})),
        (f"/2.0/coverage/{commit}/javascript?partial=true", b.coverage({"src/a.js": {3: 2}})),
        (f"/2.0/commit/{commit}/coverageFinal", {}),
        (f"/2.0/commit/{commit}/issuesRemoteResults",
         [b.issues(files={"src/a.js": [b.issue(), b.file_error()]}), b.issues("pylint", failure="crashed")]),
        (f"/2.0/commit/{commit}/metricsRemoteResults",
         [b.metrics(files={"src/a.js": {"loc": 10, "complexity": 2}}), b.metrics("python", failure="no")]),
        (f"/2.0/commit/{commit}/duplicationRemoteResults", [b.duplication(clones=[(40, 5)])]),
        (f"/2.0/commit/{commit}/resultsFinal", None),
    ]
    for path, body in uploads:
        assert _send(client, "POST", path, project, body).status_code == 200, path
    base = f"/api/v3/organizations/gh/acme/repositories/widgets/commits/{commit}"
    _send(client, "GET", "/api/v3/user/tokens", callers.headers("expired"), None)  # an expiry hit
    route = "/api/v3/organizations/{provider}/{org}/repositories/{repo}"
    answers = [
        (base + "/coverage", route + "/commits/{commit}/coverage",
         lambda data: data["data"]["final"] and len(data["data"]["reports"]) == 2),
        (base + "/analysis", route + "/commits/{commit}/analysis",
         lambda data: data["data"]["resultsFinal"] and data["data"]["toolFailures"]),
        ("/api/v3/organizations/gh/acme/repositories/widgets/tokens/events", route + "/tokens/events",
         lambda data: data["data"]),
        # gh/acme/doomed was deleted with its project token: the deletion is on its trail.
        (f"/api/v3/organizations/gh/acme/audit/deleted-repositories/{deleted_id('gh/acme/doomed')}/events",
         "/api/v3/organizations/{provider}/{org}/audit/deleted-repositories/{repositoryId}/events",
         lambda data: [e["reason"] for e in data["data"] if e["action"] == "token.deleted"] == ["repository deleted"]),
    ]
    for path, documented, has_content in answers:
        response = _send(client, "GET", path, admin, None)
        assert response.status_code == 200, response.body
        body = json.loads(response.body)
        assert has_content(body), body
        schema = operation("GET", documented)["responses"]["200"]["content"]["application/json"]["schema"]
        Draft202012Validator(schema).validate(body)
