"""Guards of the house's rules: each fails if someone undoes the rule."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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
