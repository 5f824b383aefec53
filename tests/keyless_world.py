"""Shared by the keyless CI tests: GitHub- and GitLab-shaped issuers on
127.0.0.1, settings that trust them, and GitHub-shaped claims (as in GitHub's documentation of the
Actions OIDC token: every id claim is a string)."""
import dataclasses
import uuid

from chalicelib.settings import CiIssuer, get_settings

REPO = "/api/v3/organizations/gh/acme/repositories/widgets"

GITHUB_REPOSITORY_ID = "2002"
GITHUB_OWNER_ID = "1001"
GITLAB_PROJECT_ID = "77"
GITLAB_NAMESPACE_ID = "55"


def github_claims(**overrides) -> dict:
    """The claims of a GitHub Actions ID token for acme/widgets, push to main."""
    claims = {
        "jti": str(uuid.uuid4()),
        "sub": "repo:acme/widgets:ref:refs/heads/main",
        "aud": "latchkey",
        "ref": "refs/heads/main",
        "sha": "a" * 40,
        "repository": "acme/widgets",
        "repository_owner": "acme",
        "repository_owner_id": GITHUB_OWNER_ID,
        "run_id": "5551234",
        "run_number": "7",
        "run_attempt": "1",
        "repository_visibility": "private",
        "repository_id": GITHUB_REPOSITORY_ID,
        "actor_id": "12",
        "actor": "octocat",
        "workflow": "CI",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "workflow_ref": "acme/widgets/.github/workflows/ci.yml@refs/heads/main",
        "workflow_sha": "a" * 40,
        "job_workflow_ref": "acme/widgets/.github/workflows/ci.yml@refs/heads/main",
        "runner_environment": "github-hosted",
    }
    claims.update(overrides)
    return claims


def gitlab_claims(**overrides) -> dict:
    """The claims of a GitLab CI `id_tokens` token (GitLab's documented set)."""
    claims = {
        "jti": str(uuid.uuid4()),
        "sub": "project_path:acme/widgets:ref_type:branch:ref:main",
        "aud": "latchkey",
        "namespace_id": GITLAB_NAMESPACE_ID,
        "namespace_path": "acme",
        "project_id": GITLAB_PROJECT_ID,
        "project_path": "acme/widgets",
        "user_id": "3",
        "pipeline_id": "991",
        "pipeline_source": "push",
        "job_id": "1212",
        "ref": "main",
        "ref_type": "branch",
        "ref_protected": "true",
        "sha": "b" * 40,
    }
    claims.update(overrides)
    return claims


def keyless_settings(github_issuer: str, gitlab_issuer: str | None = None, **changes):
    issuers = [CiIssuer("github", "github", github_issuer, "latchkey")]
    if gitlab_issuer:
        issuers.append(CiIssuer("gitlab", "gitlab", gitlab_issuer, "latchkey"))
    return dataclasses.replace(get_settings(), stage="dev", ci_oidc_issuers=tuple(issuers), **changes)


def install(monkeypatch, settings, clock):
    """Route the API and the authorizer through `settings` and `clock`: a
    root of them for this test (the `root` fixture puts the previous one back)."""
    from chalicelib import wiring

    root = wiring.Root(settings=settings, clock=clock)
    wiring.install(root)
    return root.publishers, root.exchange
