"""The architecture's rules, checked on the tree itself (issue 10).

- Chalice stays in the web layer: only `chalicelib/api/`, `app.py` and the
  scripts that start a Chalice server import it; `infra/` and the
  Chalice-free name modules load neither Chalice nor settings at import.
- One refusal table (`chalicelib.refusals`) drives the authorizer's
  decisions, the API's answers to them and API Gateway's own answers: a
  re-spelled refusal anywhere else fails here.

Other lanes append their guard tests at the END of this file.
"""
import ast
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib import refusals

PROJECT = Path(__file__).resolve().parent.parent


def python_files(*roots: str) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        path = PROJECT / root
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def relative(path: Path) -> str:
    return path.relative_to(PROJECT).as_posix()


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def string_constants(path: Path) -> list[tuple[int, str]]:
    return [(node.lineno, node.value) for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


# -- Chalice in one room ---------------------------------------------------------

# Outside chalicelib/api/ and app.py, only what starts a Chalice server or
# runs Chalice's command line may import it.
CHALICE_ALLOWED = {"app.py", "scripts/chalice_cli.py", "scripts/local_stack.py"}


def imports_chalice(path: Path) -> bool:
    return any(name == "chalice" or name.startswith("chalice.") for name in imported_modules(path))


def test_only_the_web_layer_imports_chalice():
    offenders = [
        relative(path) for path in python_files("chalicelib", "infra", "scripts", "manage.py", "app.py")
        if not relative(path).startswith("chalicelib/api/") and relative(path) not in CHALICE_ALLOWED
        and imports_chalice(path)
    ]
    assert offenders == [], "Chalice belongs in chalicelib/api/ (or a server start in CHALICE_ALLOWED)"


def test_the_scan_sees_an_import_of_chalice(tmp_path):
    """The rule above would fail on either spelling of the import."""
    for source in ("import chalice.app\n", "def f():\n    from chalice import Response\n"):
        module = tmp_path / "module.py"
        module.write_text(source)
        assert imports_chalice(module), source


# Run in a fresh interpreter: the modules `import module` loaded, and
# whether it read the settings (`get_settings()` caches what it read).
IMPORT_PROBE = """
import json, sys
import {module}
settings = sys.modules.get("chalicelib.settings")
read = bool(settings and settings.get_settings.cache_info().currsize)
print(json.dumps({{"modules": sorted(sys.modules), "read_settings": read}}))
"""


def import_probe(module: str) -> dict:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)], cwd=PROJECT,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def loaded_by_import(module: str) -> set[str]:
    """The modules a fresh interpreter holds after `import module`."""
    return set(import_probe(module)["modules"])


INFRA_MODULES = sorted(f"infra.{path.stem}" for path in (PROJECT / "infra").glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("module", INFRA_MODULES)
def test_infra_loads_no_chalice_and_reads_no_settings_at_import(module):
    seen = import_probe(module)
    assert "chalice" not in seen["modules"]
    assert not seen["read_settings"], f"{module} reads the settings when imported"


@pytest.mark.parametrize("module", ["chalicelib.functions", "chalicelib.refusals"])
def test_the_shared_names_load_neither_chalice_nor_settings(module):
    loaded = loaded_by_import(module)
    assert "chalice" not in loaded and "chalicelib.settings" not in loaded


# -- one refusal table -------------------------------------------------------------

ROWS = [value for value in vars(refusals).values() if isinstance(value, refusals.Refusal)]
GATEWAY_ROWS = [row for row in ROWS if row.code in refusals.GATEWAY_RESPONSES]
# What only the table may spell: every name, reason and stated message of a refusal.
SPELLINGS = {
    value
    for row in ROWS
    for value in (row.code, row.message, row.outcome, row.audit_action, row.audit_reason)
    if value
} | {refusals.UNAUTHORIZED_MESSAGE, refusals.HINT_KEY}
# The modules the table drives.
DRIVEN = ["chalicelib/authorizer.py", "chalicelib/api/http.py", "chalicelib/api/console.py",
          "chalicelib/api/local_gateway.py", "chalicelib/telemetry.py", "infra/gateway.py"]


def test_the_table_has_every_refusal_once():
    codes = [row.code for row in ROWS]
    assert len(codes) == len(set(codes))
    assert set(refusals.DENIED) | set(refusals.DENIALS.values()) | set(GATEWAY_ROWS) == set(ROWS)
    assert not set(refusals.DENIED) & set(refusals.DENIALS.values())


@pytest.mark.parametrize("path", DRIVEN)
def test_the_driven_modules_spell_no_refusal(path):
    respelled = [(line, value) for line, value in string_constants(PROJECT / path) if value in SPELLINGS]
    assert respelled == [], f"{path} spells a refusal of chalicelib.refusals itself"


def test_no_module_repeats_a_refusal_message_or_gateway_answer():
    """Messages, gateway response types and API Gateway's 401 message are
    said once, in the table (short codes like "expired" are common words
    elsewhere; the driven modules are checked for those above)."""
    distinctive = {row.message for row in ROWS if row.message} | {row.code for row in GATEWAY_ROWS} | {
        refusals.UNAUTHORIZED_MESSAGE}
    respelled = [
        (relative(path), line, value)
        for path in python_files("chalicelib", "infra", "scripts", "manage.py", "app.py")
        if path.name != "refusals.py"
        for line, value in string_constants(path) if value in distinctive
    ]
    assert respelled == []


def test_the_audit_actions_are_the_trails():
    from chalicelib.services import audit

    assert (refusals.TOKEN_DENIED, refusals.TOKEN_EXPIRED) == (audit.DENIED, audit.EXPIRED)


def test_the_deployed_gateway_responses_are_the_tables():
    from infra.gateway import swagger_gateway_responses

    deployed = swagger_gateway_responses()
    for row in GATEWAY_ROWS:
        answer = deployed[row.code]
        assert answer["statusCode"] == str(row.status), row.code
        body = refusals.render_template(answer["responseTemplates"]["application/json"], {})
        assert json.loads(body) == row.body, row.code
        assert answer["responseParameters"] == {
            f"gatewayresponse.header.{name}": f"'{value}'" for name, value in row.headers.items()}


def test_the_local_gateway_answers_from_the_table():
    from chalicelib.api.local_gateway import GatewayResponse

    for row in GATEWAY_ROWS:
        answer = GatewayResponse(row, "request-1")
        assert (answer.CODE, json.loads(answer.body)) == (row.status, row.body), row.code
        assert answer.headers["x-amzn-ErrorType"] == row.code
        assert {name: answer.headers[name] for name in row.headers} == row.headers


def answered(context: dict):
    """What the API raises for a request the authorizer handed `context`."""
    from chalicelib.api.http import current_principal

    request = SimpleNamespace(context={"authorizer": context})
    with pytest.raises(Exception) as raised:
        current_principal(request)
    return raised.value


@pytest.mark.parametrize("code", sorted(set(refusals.DENIALS) - {refusals.REUSED.code}))
def test_the_api_answers_a_denial_from_the_table(code):
    from chalicelib.errors import status_of

    row = refusals.DENIALS[code]
    error = answered({"denial": code})
    assert (status_of(error), {"error": error.message}) == (row.status, row.body)


def test_a_changed_row_changes_the_authorizer_and_the_api(monkeypatch):
    """Nothing keeps a copy: a row's new code and message are what the
    authorizer decides and the API answers."""
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.token_format import Kind, generate
    from chalicelib.wiring import Root

    changed = dataclasses.replace(refusals.AMBIGUOUS, code="two-tokens", message="send one token")
    monkeypatch.setattr(refusals, "AMBIGUOUS", changed)
    monkeypatch.setitem(refusals.DENIALS, changed.code, changed)
    headers = {"api-token": generate(Kind.ACCOUNT), "api_token": generate(Kind.ACCOUNT)}
    decision = TokenAuthorizer(Root(token_store=object()))({"methodArn": "arn", "headers": headers})
    assert decision["context"] == {"denial": "two-tokens"}
    assert answered(decision["context"]).message == "send one token"


# -- one owner-key type (keys lane) ---------------------------------------------

ROOT = PROJECT

# -- one owner-key type (chalicelib/owner_key.py) ------------------------------

OWNER_KEY_SOURCES = ("chalicelib", "infra", "scripts", "bench", "app.py", "manage.py")
OWNER_KEY_MODULE = "chalicelib/owner_key.py"
# The directory's repository item is sorted by name (`repo#<name>`) in its
# organization's partition: another key that happens to share the prefix, not
# an owner (owners name a repository by id). Spelled once, as this constant.
OWNER_PREFIX_EXCEPTIONS = {("chalicelib/models/directory.py", "REPOSITORY_SORT_PREFIX")}
OWNER_PREFIX = re.compile(r"(?:^|[^a-z])(?:user|repo)#")
# A hand parse of a stored owner: `token.owner.split("#")`, `owner.partition(...)`...
OWNER_PARSE = re.compile(r"\bowner\.(?:split|rsplit|partition|rpartition|startswith|removeprefix)\(")


def _python_files(*roots: str) -> list[Path]:
    files = []
    for root in roots:
        path = ROOT / root
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes (prose may show the keys)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _owner_prefix_literals(source: str, relative: str) -> list[str]:
    """`file:line: text` of each string literal (f-strings' parts too)
    spelling an owner prefix, outside docstrings and the allowed constants."""
    tree = ast.parse(source, filename=relative)
    skipped = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and (relative, t.id) in OWNER_PREFIX_EXCEPTIONS for t in node.targets):
            skipped.add(id(node.value))
    return [
        f"{relative}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
        and OWNER_PREFIX.search(node.value)
    ]


def test_only_the_owner_key_module_spells_owner_prefixes():
    files = [f for f in _python_files(*OWNER_KEY_SOURCES) if _relative(f) != OWNER_KEY_MODULE]
    assert files and len(files) > 50  # the scan sees the tree
    found = [hit for path in files for hit in _owner_prefix_literals(path.read_text(), _relative(path))]
    assert found == [], "build or parse owner keys with chalicelib.owner_key.OwnerKey:\n" + "\n".join(found)


def test_nothing_parses_a_stored_owner_by_hand():
    found = [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in _python_files(*OWNER_KEY_SOURCES)
        if _relative(path) != OWNER_KEY_MODULE
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OWNER_PARSE.search(line)
    ]
    assert found == [], "parse owners with OwnerKey.parse / OwnerKey.find:\n" + "\n".join(found)


def test_the_owner_guard_would_catch_a_respelling():
    # The guard itself: each way of spelling an owner again is seen, and the
    # one allowed constant is allowed only in its module.
    probe = ('"""user#<id> in prose is fine."""\n'
             'REPOSITORY_SORT_PREFIX = "repo#"\n'
             'def f(i, token):\n'
             '    a = f"user#{i}"\n'
             '    b = "repo#" + str(i)\n'
             '    c = f"session#user#{i}"\n'
             '    return token.owner.partition("#")\n')
    hits = [hit.split(": ", 1)[1] for hit in _owner_prefix_literals(probe, "chalicelib/probe.py")]
    assert hits == ["'repo#'", "'user#'", "'repo#'", "'session#user#'"]
    hits = [hit.split(": ", 1)[1] for hit in _owner_prefix_literals(probe, "chalicelib/models/directory.py")]
    assert hits == ["'user#'", "'repo#'", "'session#user#'"]
    assert OWNER_PARSE.search(probe)


# -- one repository value (chalicelib/repository_ref.py) ---------------------

# `provider, org, repo = principal.repository.split("/", 2)` and the like.
REPOSITORY_SPLIT = re.compile(r"\b(?:full_name|repository)\)?\.(?:split|rsplit|partition|rpartition)\(")


def test_nothing_splits_a_repository_name_by_hand():
    found = [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in _python_files(*OWNER_KEY_SOURCES)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if REPOSITORY_SPLIT.search(line)
    ]
    assert found == [], "name repositories with chalicelib.repository_ref.RepositoryRef:\n" + "\n".join(found)



# -- the composition root (chalicelib/wiring.py) -------------------------------------

def _root_sources():
    """(path, AST) of every module that could build a service: chalicelib,
    the entry points and the scripts."""
    import ast
    from pathlib import Path

    project = Path(__file__).resolve().parent.parent
    paths = [*project.glob("chalicelib/**/*.py"), project / "app.py", project / "manage.py",
             *project.glob("scripts/**/*.py")]
    return [(path.relative_to(project).as_posix(), ast.parse(path.read_text(), str(path))) for path in sorted(paths)]


def _built_classes(sources) -> set[str]:
    """The services and stores: the classes the root builds."""
    import ast

    return {node.name for path, tree in sources if path.startswith(("chalicelib/services/", "chalicelib/store/"))
            for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and node.name.endswith(("Service", "Store", "Exchange", "Reader", "Sweeper"))}


def _called_name(call) -> str | None:
    import ast

    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_architecture_services_and_stores_are_built_by_the_root_only():
    import ast

    sources = _root_sources()
    classes = _built_classes(sources)
    assert {"TokenService", "TokenStore", "UploadService", "TokenExchange", "Sweeper"} <= classes
    built = [f"{path}:{node.lineno} {_called_name(node)}()" for path, tree in sources if path != "chalicelib/wiring.py"
             for node in ast.walk(tree) if isinstance(node, ast.Call) and _called_name(node) in classes]
    assert built == []


def test_architecture_services_require_their_collaborators():
    """No `store or Store()` default, no lazy import of a service or store in
    a service (to dodge a cycle or to build one inside a method)."""
    import ast

    sources = _root_sources()
    classes = _built_classes(sources) | {"get_settings"}
    found = []
    for path, tree in sources:
        if not path.startswith(("chalicelib/services/", "chalicelib/store/")):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                found += [f"{path}:{node.lineno} `or {_called_name(value)}()`" for value in node.values
                          if isinstance(value, ast.Call) and _called_name(value) in classes]
            if isinstance(node, ast.FunctionDef):
                found += [f"{path}:{inner.lineno} imports {inner.module} in {node.name}()"
                          for inner in ast.walk(node) if isinstance(inner, ast.ImportFrom) and inner.module
                          and inner.module.startswith(("chalicelib.services", "chalicelib.store"))]
    assert found == []


def test_architecture_services_never_import_pynamodb_nor_build_its_conditions():
    """Conditions and transactions are the store's: a service names the
    operation it wants (`create_for_user`, `rotate_for_repository`...)."""
    import ast

    sources = _root_sources()
    models = {node.name for path, tree in sources if path.startswith("chalicelib/models/")
              for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}

    def model_attribute(node) -> bool:  # `Token.expires_at`, `DirectoryItem.pk`
        return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in models)

    found = []
    for path, tree in sources:
        if not path.startswith("chalicelib/services/"):
            continue
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path}:{node.lineno} imports {name}" for name in names if name.split(".")[0] == "pynamodb"]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and model_attribute(node.func.value):
                found.append(f"{path}:{node.lineno} {ast.unparse(node.func)}()")
            if isinstance(node, ast.Compare) and model_attribute(node.left):
                found.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_architecture_no_route_module_takes_another_ones_services():
    """`api/v3_commits.py` once took the upload service from `api/v2.py`:
    each route module takes its services from the root."""
    import ast

    borrowed = [f"{path}:{node.lineno} {node.module}" for path, tree in _root_sources()
                if path.startswith("chalicelib/api/") for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib.api.")
                and any(alias.name in ("services", "audit_reader", "audit_service") for alias in node.names)]
    assert borrowed == []


# -- tests: no test module imports another (tests lane) -----------------------------

def imported_test_modules(path: Path) -> set[str]:
    """The test modules and conftest that `path` imports (tests.test_x, tests.conftest)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"tests.{alias.name}" for alias in node.names] if node.module == "tests" else [node.module]
        else:
            continue
        found.update(name for name in names
                     if name.startswith(("tests.test_", "tests.conftest", "test_", "conftest")))
    return found


def test_no_test_module_imports_another_nor_conftest():
    """Shared code lives in tests/helpers.py (or a helper module): a test module
    importing another runs that module's tests' setup twice and ties the two."""
    offenders = {path.name: sorted(names) for path in sorted((PROJECT / "tests").glob("*.py"))
                 if (names := imported_test_modules(path))}
    assert offenders == {}
