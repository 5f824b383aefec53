"""API v3: what CI uploaded for a commit, read back.

An account token with `read` on the repository, or that repository's
project token. Registered at `/api/v3` beside `chalicelib.api.v3`. Both
read-backs are computed as the data arrived: one read of the summary, and
one page of per-file rows (`cursor`, `limit` 1-100, default 100).
"""
from typing import TYPE_CHECKING

from chalicelib.api.http import ApiBlueprint, json_body, json_response, pagination, pagination_body, request_meta
from chalicelib.clock import iso
from chalicelib.payloads import analysis
from chalicelib.repository_ref import RepositoryRef
from chalicelib.scopes import REPOSITORY_READ
from chalicelib.wiring import root

if TYPE_CHECKING:  # the service is imported by the first request (no PynamoDB at import)
    from chalicelib.services.uploads import AnalysisUploads, CommitAnalysis, CommitCoverage, ReceivedReport
    from chalicelib.store.pagination import Page

api = ApiBlueprint(__name__)

COMMIT = "/organizations/{provider}/{org}/repositories/{repo}/commits/{commit}"


def services():
    """The UploadService, from the composition root."""
    return root().uploads


@api.route(COMMIT + "/coverage", methods=["GET"], scope=REPOSITORY_READ)
def commit_coverage(principal, provider, org, repo, commit):
    limit, cursor = pagination(api.current_request)
    coverage = services().coverage(principal, RepositoryRef(provider, org, repo), commit, limit=limit, cursor=cursor)
    return json_response(coverage_body(coverage))


@api.route(COMMIT + "/analysis", methods=["GET"], scope=REPOSITORY_READ)
def commit_analysis(principal, provider, org, repo, commit):
    limit, cursor = pagination(api.current_request)
    results = services().analysis(principal, RepositoryRef(provider, org, repo), commit, limit=limit, cursor=cursor)
    return json_response(analysis_body(results))


def coverage_body(coverage: "CommitCoverage") -> dict:
    """A commit's coverage as the read-back answers it."""
    total = coverage.total
    return _read_back(coverage.files, {
        "commit": coverage.commit,
        "final": coverage.final,
        "finalizedAt": iso(coverage.finalized_at),
        "total": {"files": total.files, "covered": total.covered, "coverable": total.coverable,
                  "percentage": total.percentage},
        "files": coverage.files.items,
        "reports": [_report(report) for report in coverage.reports],
    })


def _report(report: "ReceivedReport") -> dict:
    return {"language": report.language, "partial": report.partial, "receivedAt": report.received_at,
            "files": report.files, "covered": report.covered, "coverable": report.coverable, "bytes": report.bytes}


def analysis_body(results: "CommitAnalysis") -> dict:
    """A commit's analysis results as the read-back answers them."""
    return _read_back(results.files, {
        "commit": results.commit,
        "resultsFinal": results.final,
        "resultsFinalAt": iso(results.final_at),
        **analysis.render(results.state),
        "issuesByFile": results.files.items,
        "uploads": _uploads(results.uploads),
    })


def _uploads(uploads: "AnalysisUploads") -> dict:
    return {"issues": uploads.issues, "metrics": uploads.metrics, "duplication": uploads.duplication,
            "results": uploads.results, "bytes": uploads.bytes, "lastReceivedAt": uploads.last_received_at}


def _read_back(rows: "Page[dict]", data: dict) -> dict:
    """A read-back's answer: its data, and the pagination of its page of rows."""
    return {"data": data, "pagination": pagination_body(rows)}


# -- the analysis configuration the analysis CLI reads ---------------------------

CONFIGURATION = "/organizations/{provider}/{org}/repositories/{repo}/analysis/configuration"


@api.route(CONFIGURATION, methods=["GET"])
def get_analysis_configuration(principal, provider, org, repo):
    """What the analysis CLI reads (`read`, or the repository's project token)."""
    repository = RepositoryRef(provider, org, repo)
    return json_response({"data": services().configuration(principal, repository, any_token=True)})


@api.route(CONFIGURATION, methods=["PUT"])
def put_analysis_configuration(principal, provider, org, repo):
    """Replace it (a repository admin); the CLI reads it at
    `GET /2.0/project/analysis/configuration`."""
    from chalicelib.analysis_config import MAX_BODY_BYTES

    request = api.current_request
    body = json_body(request, max_bytes=MAX_BODY_BYTES)
    repository = RepositoryRef(provider, org, repo)
    configuration = services().set_configuration(principal, repository, body, meta=request_meta(request))
    return json_response({"data": configuration})
