"""API v3: what CI uploaded for a commit, read back.

An account token with `read` on the repository, or that repository's
project token. Registered at `/api/v3` beside `chalicelib.api.v3`. Both
read-backs are computed as the data arrived: one read of the summary, and
one page of per-file rows (`cursor`, `limit` 1-100, default 100).
"""
from chalicelib.api.http import ApiBlueprint, json_response, pagination
from chalicelib.api.v2 import services

api = ApiBlueprint(__name__)

COMMIT = "/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}"


@api.route(COMMIT + "/coverage", methods=["GET"])
def commit_coverage(principal, provider, org, repo, commit):
    limit, cursor = pagination(api.current_request)
    data, page = services().coverage(principal, provider, org, repo, commit, limit=limit, cursor=cursor)
    return json_response({"data": data, "pagination": page})


@api.route(COMMIT + "/analysis", methods=["GET"])
def commit_analysis(principal, provider, org, repo, commit):
    limit, cursor = pagination(api.current_request)
    data, page = services().analysis(principal, provider, org, repo, commit, limit=limit, cursor=cursor)
    return json_response({"data": data, "pagination": page})
