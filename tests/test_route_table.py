"""The route table as API Gateway and chalice's local server see it."""
import pytest
from chalice.deploy.validate import validate_routes
from chalice.local import RouteMatcher

from app import app


def test_route_table_passes_chalice_deploy_validation():
    validate_routes(app.routes)


def test_route_table_has_one_variable_name_per_path_level():
    """API Gateway refuses siblings like /{provider} and /{username}
    ("A sibling ({provider}) of this resource already has a variable path
    part"); a literal beside one variable is fine."""
    children: dict[str, set[str]] = {}
    for path in app.routes:
        parts = path.strip("/").split("/")
        for depth in range(len(parts)):
            parent = "/" + "/".join(parts[:depth])
            children.setdefault(parent, set()).add(parts[depth])
    for parent, names in children.items():
        variables = sorted(name for name in names if name.startswith("{"))
        assert len(variables) <= 1, f"{parent} has sibling variables {variables}"


C = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("url,route,params", [
    (f"/2.0/coverage/{C}/python", "/2.0/coverage/{commit}/{language}", {"commit": C, "language": "python"}),
    (f"/2.0/commit/{C}/coverageFinal", "/2.0/commit/{commit}/coverageFinal", {"commit": C}),
    (f"/2.0/commit/{C}/resultsFinal", "/2.0/commit/{commit}/resultsFinal", {"commit": C}),
    ("/2.0/project/analysis/configuration", "/2.0/project/analysis/configuration", {}),
    (f"/2.0/gh/acme/widgets/commit/{C}/coverage/python",
     "/2.0/{provider}/{username}/{project}/commit/{commit}/coverage/{language}",
     {"provider": "gh", "username": "acme", "project": "widgets", "commit": C, "language": "python"}),
    (f"/2.0/gh/acme/widgets/commit/{C}/coverageFinal",
     "/2.0/{provider}/{username}/{project}/commit/{commit}/coverageFinal",
     {"provider": "gh", "username": "acme", "project": "widgets", "commit": C}),
    (f"/2.0/acme/widgets/commit/{C}/coverage/python",
     "/2.0/{provider}/{username}/commit/{commit}/coverage/{language}",
     {"provider": "acme", "username": "widgets", "commit": C, "language": "python"}),
    ("/2.0/gh/acme/widgets/analysis/configuration",
     "/2.0/{provider}/{username}/{project}/analysis/configuration",
     {"provider": "gh", "username": "acme", "project": "widgets"}),
    # a repository or organization named like a literal still resolves
    (f"/2.0/gh/commit/widgets/commit/{C}/coverageFinal",
     "/2.0/{provider}/{username}/{project}/commit/{commit}/coverageFinal",
     {"provider": "gh", "username": "commit", "project": "widgets", "commit": C}),
    (f"/api/v3/organizations/gh/acme/repositories/widgets/commits/{C}/coverage",
     "/api/v3/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}/coverage",
     {"provider": "gh", "org": "acme", "repo": "widgets", "commit": C}),
])
def test_local_route_matcher_resolves_every_form(url, route, params):
    match = RouteMatcher(list(app.routes)).match_route(url)
    assert match.route == route
    assert {name: match.captured[name] for name in params} == params
