"""The isolation matrix's table: every protected route x every kind of
caller, with the status each cell must answer (issue 2's rules); the scope
each route needs; the public routes. tests/test_isolation_matrix.py runs it,
tests/test_contract.py produces documented answers from it.

Columns (`CALLER_KINDS`, the callers built in conftest.py): the first seven
and the last are the token's own state, the same on every route; the rest
depend on what the route needs. The targets: repository gh/acme/widgets (the
"own" project token belongs to it, the account users hold the named role on
it), another user's token for account-token deletes, a fresh project token
of widgets for project-token deletes.

Rows for routes on other branches stay here keyed by (method, path) and are
skipped until the route exists; an implemented route without a row fails
`test_isolation_matrix_has_a_row_for_every_route`.
"""

CALLER_KINDS = (
    "none", "garbage", "wrong_checksum", "revoked", "expired", "disabled_owner", "deleted_repo",
    "other_project", "own_project", "no_access", "read", "write", "repo_admin", "org_admin", "two_tokens",
)

W = "/api/v3/organizations/gh/acme/repositories/widgets"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
COVERAGE = {"fileReports": [{"filename": "src/a.py", "coverage": {"1": 1, "2": 0}}]}


def deleted_id(full: str) -> int:
    """The id of the deleted repository `full` (from its tombstone)."""
    from chalicelib.models.directory import DeletedRepository, org_key

    provider, org, name = full.split("/")
    tombstones = DeletedRepository.query(org_key(provider, org), DeletedRepository.sk.startswith("deleted#"))
    return next(int(t.repository_id) for t in tombstones if t.name == name)


PUBLISHER = {"issuer": "github", "repositoryId": 2002, "repositoryOwnerId": 1001}


def no_publishers(callers) -> str:
    """The publishers route of widgets, with none registered (each cell
    registers the same publisher afresh)."""
    from chalicelib.repository_ref import RepositoryRef
    from chalicelib.store.publishers import PublisherStore

    PublisherStore().delete_all_of(RepositoryRef("gh", "acme", "widgets"))
    return W + "/trusted-publishers"


def a_publisher(callers) -> str:
    """The path of a fresh trusted publisher of widgets (a target for deletes)."""
    import os

    from chalicelib import wiring
    from chalicelib.access import Principal
    from chalicelib.repository_ref import RepositoryRef
    from chalicelib.token_format import Kind

    boss = callers.make.admin.user("org-admin@example.com")
    principal = Principal(Kind.ACCOUNT, token_id=1, user_id=int(boss.user_id))
    created = wiring.root().publishers.create(principal, RepositoryRef("gh", "acme", "widgets"),
                                              {**PUBLISHER, "environment": os.urandom(4).hex()})
    return f"{W}/trusted-publishers/{int(created.publisher_id)}"


# Rows whose cells end the caller's own token: run after every other row.
CONSUMES_CALLER = {("DELETE", "/api/v3/tokens/self")}

# Token state, identical on every protected route.
#  none garbage wrong_checksum revoked expired disabled_owner deleted_repo ... two_tokens
GATE = (401, 404, 404, 404, 401, 404, 404)
TWO = 400

# route (method, chalice path) -> (concrete path or a function of `callers`, body,
#   (other_project, own_project, no_access, read, write, repo_admin, org_admin))
ROWS = {
    ("GET", "/api/v3/user"): ("/api/v3/user", None, (403, 403, 200, 200, 200, 200, 200)),
    ("GET", "/api/v3/user/organizations"): ("/api/v3/user/organizations", None, (403, 403, 200, 200, 200, 200, 200)),
    ("GET", "/api/v3/user/tokens"): ("/api/v3/user/tokens", None, (403, 403, 200, 200, 200, 200, 200)),
    ("POST", "/api/v3/user/tokens"): ("/api/v3/user/tokens", {}, (403, 403, 200, 200, 200, 200, 200)),
    # another user's token: invisible to every account, 403 to project tokens
    ("DELETE", "/api/v3/user/tokens/{tokenId}"): (
        lambda c: f"/api/v3/user/tokens/{c.victim_token_id()}", None, (403, 403, 404, 404, 404, 404, 404)),
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories"): (
        "/api/v3/organizations/gh/acme/repositories", None, (404, 200, 404, 200, 200, 200, 200)),
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}"): (
        W, None, (404, 200, 404, 200, 200, 200, 200)),
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens"): (
        W + "/tokens", None, (404, 403, 404, 403, 403, 200, 200)),
    ("POST", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens"): (
        W + "/tokens", None, (404, 403, 404, 403, 403, 201, 201)),
    ("DELETE", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens/{tokenId}"): (
        lambda c: f"{W}/tokens/{c.project_token_id()}", None, (404, 403, 404, 403, 403, 204, 204)),
    # -- issue 5 (audit trail, branch of another helper) --
    ("GET", "/api/v3/user/tokens/events"): ("/api/v3/user/tokens/events", None, (403, 403, 200, 200, 200, 200, 200)),
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens/events"): (
        W + "/tokens/events", None, (404, 403, 404, 403, 403, 200, 200)),
    # a deleted repository's trail: its organization's admins only
    ("GET", "/api/v3/organizations/{provider}/{org}/audit/deleted-repositories/{repositoryId}/events"): (
        lambda c: f"/api/v3/organizations/gh/acme/audit/deleted-repositories/{deleted_id('gh/acme/doomed')}/events",
        None, (404, 403, 404, 404, 404, 404, 200)),
    # -- issue 3 (uploads branch): read-back --
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}/coverage"): (
        f"{W}/commits/{COMMIT}/coverage", None, (404, 200, 404, 200, 200, 200, 200)),
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}/analysis"): (
        f"{W}/commits/{COMMIT}/analysis", None, (404, 200, 404, 200, 200, 200, 200)),
    # -- issue 3: project-token uploads (the token names the repository; an
    #    account token on a project-token path is rejected) --
    ("POST", "/2.0/coverage/{commit}/{language}"): (
        f"/2.0/coverage/{COMMIT}/python", COVERAGE, (200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/2.0/commit/{commit}/coverageFinal"): (
        f"/2.0/commit/{COMMIT}/coverageFinal", {}, (200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/2.0/commit/{commit}/issuesRemoteResults"): (
        f"/2.0/commit/{COMMIT}/issuesRemoteResults", [], (200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/2.0/commit/{commit}/metricsRemoteResults"): (
        f"/2.0/commit/{COMMIT}/metricsRemoteResults", [], (200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/2.0/commit/{commit}/duplicationRemoteResults"): (
        f"/2.0/commit/{COMMIT}/duplicationRemoteResults", [], (200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/2.0/commit/{commit}/resultsFinal"): (
        f"/2.0/commit/{COMMIT}/resultsFinal", None, (200, 200, 403, 403, 403, 403, 403)),
    ("GET", "/2.0/project/analysis/configuration"): (
        "/2.0/project/analysis/configuration", None, (200, 200, 403, 403, 403, 403, 403)),
    # -- issue 3: account-token uploads (write or higher; a project token on
    #    a repository path is rejected) --
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/coverage/{language}"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/coverage/python", COVERAGE, (403, 403, 404, 403, 200, 200, 200)),
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/coverageFinal"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/coverageFinal", {}, (403, 403, 404, 403, 200, 200, 200)),
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/issuesRemoteResults"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/issuesRemoteResults", [], (403, 403, 404, 403, 200, 200, 200)),
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/metricsRemoteResults"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/metricsRemoteResults", [], (403, 403, 404, 403, 200, 200, 200)),
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/duplicationRemoteResults"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/duplicationRemoteResults", [], (403, 403, 404, 403, 200, 200, 200)),
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/resultsFinal"): (
        f"/2.0/gh/acme/widgets/commit/{COMMIT}/resultsFinal", None, (403, 403, 404, 403, 200, 200, 200)),
    ("GET", "/2.0/{provider}/{username}/{project}/analysis/configuration"): (
        "/2.0/gh/acme/widgets/analysis/configuration", None, (403, 403, 404, 200, 200, 200, 200)),
    ("POST", "/2.0/{username}/{project}/commit/{commit}/coverage/{language}"): (
        f"/2.0/acme/widgets/commit/{COMMIT}/coverage/python", COVERAGE, (403, 403, 404, 403, 200, 200, 200)),
    # -- issue 16: rotation and pause (targets as for the deletes) --
    ("POST", "/api/v3/user/tokens/{tokenId}/rotate"): (
        lambda c: f"/api/v3/user/tokens/{c.victim_token_id()}/rotate", {}, (403, 403, 404, 404, 404, 404, 404)),
    ("PATCH", "/api/v3/user/tokens/{tokenId}"): (
        lambda c: f"/api/v3/user/tokens/{c.victim_token_id()}", {"disabled": False},
        (403, 403, 404, 404, 404, 404, 404)),
    ("POST", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens/{tokenId}/rotate"): (
        lambda c: f"{W}/tokens/{c.project_token_id()}/rotate", {}, (404, 403, 404, 403, 403, 201, 201)),
    ("PATCH", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/tokens/{tokenId}"): (
        lambda c: f"{W}/tokens/{c.project_token_id()}", {"disabled": False}, (404, 403, 404, 403, 403, 200, 200)),
    # -- issue 15: trusted publishers (repository or org admins), self-revocation --
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/trusted-publishers"): (
        W + "/trusted-publishers", None, (404, 403, 404, 403, 403, 200, 200)),
    ("POST", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/trusted-publishers"): (
        no_publishers, PUBLISHER, (404, 403, 404, 403, 403, 201, 201)),
    ("DELETE", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/trusted-publishers/{publisherId}"): (
        a_publisher, None, (404, 403, 404, 403, 403, 204, 204)),
    # any valid token may end itself, whatever it may otherwise do
    ("DELETE", "/api/v3/tokens/self"): ("/api/v3/tokens/self", None, (204, 204, 204, 204, 204, 204, 204)),
    # -- issue 9: one provider's organizations, one organization --
    ("GET", "/api/v3/user/organizations/{provider}"): (
        "/api/v3/user/organizations/gh", None, (403, 403, 200, 200, 200, 200, 200)),
    ("GET", "/api/v3/user/organizations/{provider}/{org}"): (
        "/api/v3/user/organizations/gh/acme", None, (403, 403, 404, 200, 200, 200, 200)),
    # -- issue 9: the analysis configuration, set by a repository admin --
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/analysis/configuration"): (
        W + "/analysis/configuration", None, (404, 200, 404, 200, 200, 200, 200)),
    ("PUT", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/analysis/configuration"): (
        W + "/analysis/configuration", {"ignoredPaths": [{"value": "vendor/"}]}, (404, 403, 404, 403, 403, 200, 200)),
}

# Issue 16: project tokens of widgets limited to one scope each are callers
# too. The scope each route needs (written here by hand, not read from the
# code): with it, a scoped token answers as the unlimited one (`own_project`);
# without it, 403 naming the missing scope. Routes not listed need a scope no
# token has: a scoped token is refused there (403) whatever the unlimited
# one gets.
ROUTE_SCOPES = {
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories"): "repository:read",
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}"): "repository:read",
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}/coverage"):
        "repository:read",
    ("GET", "/api/v3/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}/analysis"):
        "repository:read",
    ("POST", "/2.0/coverage/{commit}/{language}"): "coverage:write",
    ("POST", "/2.0/commit/{commit}/coverageFinal"): "coverage:write",
    ("POST", "/2.0/commit/{commit}/issuesRemoteResults"): "analysis:write",
    ("POST", "/2.0/commit/{commit}/metricsRemoteResults"): "analysis:write",
    ("POST", "/2.0/commit/{commit}/duplicationRemoteResults"): "analysis:write",
    ("POST", "/2.0/commit/{commit}/resultsFinal"): "analysis:write",
    ("GET", "/2.0/project/analysis/configuration"): "analysis:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/coverage/{language}"): "coverage:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/coverageFinal"): "coverage:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/issuesRemoteResults"): "analysis:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/metricsRemoteResults"): "analysis:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/duplicationRemoteResults"): "analysis:write",
    ("POST", "/2.0/{provider}/{username}/{project}/commit/{commit}/resultsFinal"): "analysis:write",
    ("GET", "/2.0/{provider}/{username}/{project}/analysis/configuration"): "analysis:write",
    ("POST", "/2.0/{username}/{project}/commit/{commit}/coverage/{language}"): "coverage:write",
    ("DELETE", "/api/v3/tokens/self"): "*",  # any token may end itself, whatever its scopes
}
SCOPED_CALLERS = ("scope:coverage:write", "scope:analysis:write", "scope:repository:read")

# Public routes: their own checks are the authorization, so every kind of
# caller, whatever token it sends, gets the same answer. (method, path) ->
# (body, status).
PUBLIC_ROWS = {
    ("GET", "/openapi.json"): (None, 200),
    ("POST", "/api/v3/oidc/token"): ({"token": "not-a-jwt"}, 401),
    ("POST", "/api/v3/secret-scanning/github"): ([], 401),  # unsigned
    ("POST", "/api/v3/credentials/revoke"): ({"credentials": ["lka_unknown"]}, 202),
}


def expected_row(columns) -> dict:
    return dict(zip(CALLER_KINDS, GATE + tuple(columns) + (TWO,), strict=True))
