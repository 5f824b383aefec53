"""The isolation matrix run: every protected route x every kind of caller
answers the status its row says (the table: tests/isolation_rows.py), every
single-scope project token too, and every public route answers every caller
alike.
"""
import json

import pytest

from tests.helpers import is_web_console, normalized, tally
from tests.isolation_rows import (
    CALLER_KINDS,
    CONSUMES_CALLER,
    PUBLIC_ROWS,
    ROUTE_SCOPES,
    ROWS,
    SCOPED_CALLERS,
    expected_row,
)


def protected_routes():
    """(method, path) of every route the token authorizer guards."""
    from app import app

    return {
        (method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None and not is_web_console(path)
    }


def test_isolation_matrix_has_a_row_for_every_route():
    rows = {(method, normalized(path)) for method, path in ROWS}
    missing = sorted(r for r in protected_routes() if (r[0], normalized(r[1])) not in rows)
    assert not missing, f"protected routes without a row in the isolation matrix: {missing}"


def call(client, callers, kind, method, path, body):
    """One cell: `kind`'s request to a row's path; (response, its JSON or None)."""
    target = path(callers) if callable(path) else path
    headers = callers.headers(kind)
    raw = b""
    if body is not None:
        raw = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    response = client.http.request(method, target, headers=headers, body=raw)
    return response, (json.loads(response.body) if response.body else None)


@pytest.mark.slow  # 630 cells
def test_isolation_matrix(client, callers):
    implemented = {(m, normalized(p)) for m, p in protected_routes()}
    failures, cells, skipped = [], 0, []
    for (method, route), (path, body, columns) in sorted(ROWS.items(), key=lambda row: row[0] in CONSUMES_CALLER):
        if (method, normalized(route)) not in implemented:
            skipped.append(f"{method} {route}")
            continue
        for kind, expected in expected_row(columns).items():
            response, answer = call(client, callers, kind, method, path, body)
            cells += 1
            problem = None
            if response.status_code != expected:
                problem = f"status {response.status_code}"
            elif expected >= 400 and not (isinstance(answer, dict) and isinstance(answer.get("error"), str)):
                problem = f"no string error in {answer!r}"
            elif expected == 404 and answer != {"error": "not found"}:
                problem = f"404 body {answer!r}"
            elif kind == "expired" and answer != {"error": "token expired"}:
                problem = f"expired body {answer!r}"
            if problem:
                failures.append(f"{method} {route} as {kind}: expected {expected}, got {problem}: {answer!r}")
    tally("isolation matrix: cells", cells)
    tally("isolation matrix: rows pending (routes not implemented)", len(skipped))
    assert not failures, "\n".join(failures)
    assert cells > 0


def public_routes():
    from app import app

    return {
        (method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is None and not is_web_console(path)
    }


def test_isolation_matrix_has_a_row_for_every_public_route():
    assert public_routes() == set(PUBLIC_ROWS)


def test_public_routes_answer_every_caller_alike(client, callers, monkeypatch):
    from chalicelib.api import leaks

    monkeypatch.setattr(leaks, "revoke_limit", lambda: 10_000)
    failures = []
    for (method, route), (body, expected) in PUBLIC_ROWS.items():
        for kind in CALLER_KINDS:
            response, _ = call(client, callers, kind, method, route, body)
            if response.status_code != expected:
                failures.append(f"{method} {route} as {kind}: expected {expected}, got {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow  # 126 cells
def test_isolation_matrix_scoped_project_tokens(client, callers):
    """Every protected route x each single-scope project token of widgets."""
    failures, cells = [], 0
    for (method, route), (path, body, columns) in sorted(ROWS.items(), key=lambda row: row[0] in CONSUMES_CALLER):
        unlimited = expected_row(columns)["own_project"]
        needed = ROUTE_SCOPES.get((method, route))
        for kind in SCOPED_CALLERS:
            held = kind.removeprefix("scope:")
            expected = unlimited if needed in (held, "*") else 403
            response, answer = call(client, callers, kind, method, path, body)
            cells += 1
            problem = None
            if response.status_code != expected:
                problem = f"status {response.status_code}"
            elif needed not in (held, "*") and needed is not None and needed not in str((answer or {}).get("error")):
                problem = "the error does not name the missing scope"
            if problem:
                failures.append(f"{method} {route} as {kind}: expected {expected}, got {problem}: {answer!r}")
    tally("isolation matrix: scoped-caller cells", cells)
    assert not failures, "\n".join(failures)
