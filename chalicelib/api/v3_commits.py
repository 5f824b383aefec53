"""API v3: what CI uploaded for a commit, read back.

An account token with `read` on the repository, or that repository's
project token. Registered at `/api/v3` beside `chalicelib.api.v3`.
"""
from chalicelib.api.http import ApiBlueprint, json_response
from chalicelib.api.v2 import services
from chalicelib.scopes import REPOSITORY_READ

api = ApiBlueprint(__name__)

COMMIT = "/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}"


@api.route(COMMIT + "/coverage", methods=["GET"], scope=REPOSITORY_READ)
def commit_coverage(principal, provider, org, repo, commit):
    return json_response({"data": services().coverage(principal, provider, org, repo, commit)})


@api.route(COMMIT + "/analysis", methods=["GET"], scope=REPOSITORY_READ)
def commit_analysis(principal, provider, org, repo, commit):
    return json_response({"data": services().analysis(principal, provider, org, repo, commit)})
