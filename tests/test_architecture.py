"""Guards of the architecture: each fails if someone undoes a room or a door."""


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
