"""Helpers shared by the test modules (a test module never imports another).

- `Clock`: the one movable clock the services, the authorizer and the
  verifiers take in tests.
- `tally`: counts a test wants on record (faults injected, races run, cases
  fuzzed); `conftest.pytest_terminal_summary` prints them after the run.
- The API's routes as the contract tests see them: which are the web
  console's, the OpenAPI document, its operations, routes compared by shape.
"""
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

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
