"""The house's rooms and doors, checked on the source."""
import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


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
