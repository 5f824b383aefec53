"""API v2: uploads from CI, with the paths and answers of Codacy's clients
(`codacy-compat.md`, API v2). Every success is 200 `{"success": "..."}`.

API Gateway allows one variable name per path level (a literal beside it is
fine). The provider-less path of the old Node reporter,
`/2.0/{username}/{project}/commit/{commit}/coverage/{language}`, is
therefore registered with the variable names of the provider form, as
`/{provider}/{username}/commit/{commit}/coverage/{language}`, and its
values are renamed in the view (provider `gh`, as Codacy assumed).
"""
from collections.abc import Mapping

from chalicelib.api.http import ApiBlueprint, json_body, json_response
from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.repository_ref import RepositoryRef
from chalicelib.scopes import ANALYSIS_WRITE, COVERAGE_WRITE
from chalicelib.settings import get_settings
from chalicelib.wiring import root

api = ApiBlueprint(__name__)

ACCOUNT = "/{provider}/{username}/{project}"
LEGACY_PROVIDER = "gh"


def services():
    """The UploadService, from the composition root."""
    return root().uploads


def success(message: str):
    return json_response({"success": message})


def _partial() -> bool:
    params: Mapping[str, str] = api.current_request.query_params or {}
    raw = params.get("partial")
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise BadRequest("partial: must be true or false", field="partial")


_CONTROLS = bytes(range(32))


def event_bytes(raw: bytes) -> int:
    """The size of a body inside the Lambda event API Gateway sends, at most:
    a JSON string, where each `"` and `\\` takes two bytes and a control
    character up to six (`\\u001f`)."""
    controls = len(raw) - len(raw.translate(None, _CONTROLS))
    return len(raw) + raw.count(b'"') + raw.count(b"\\") + 5 * controls


def _raw() -> bytes:
    raw = api.current_request.raw_body or b""
    return raw if isinstance(raw, bytes) else raw.encode()


def _check_size(raw: bytes) -> None:
    """Within MAX_UPLOAD_BYTES (6,000,000) as Lambda receives it, deployed:
    past it Lambda's 6 MB request limit would refuse the event before any
    code ran, so it is refused here, clearly, on every stage alike."""
    limit = get_settings().max_upload_bytes
    if len(raw) > limit or event_bytes(raw) > limit:
        raise PayloadTooLarge(
            f"body: larger than {limit} bytes as Lambda receives it (a JSON string: each \" and \\ counts "
            "twice); Lambda's request limit is 6 MB. Split the upload: coverage with partial=true, "
            "analysis results in smaller batches", field="body")


def _body():
    """(parsed JSON, raw bytes) of an upload, within the size limit."""
    raw = _raw()
    _check_size(raw)
    body = json_body(api.current_request, max_bytes=get_settings().max_upload_bytes)
    return body, raw


def _bounded() -> None:
    """The body of `coverageFinal` / `resultsFinal` (`{}` or none, ignored)
    is held to the same size limit as every upload: no body is unbounded."""
    _check_size(_raw())


def _coverage(principal, path: RepositoryRef | None, commit, language):
    body, raw = _body()
    return success(services().upload_coverage(principal, path, commit, language, _partial(), body, raw))


def _analysis(principal, path: RepositoryRef | None, commit, kind):
    body, raw = _body()
    return success(services().upload_analysis(principal, path, commit, kind, body, raw))


# -- project token: the token names the repository ------------------------------

@api.route("/coverage/{commit}/{language}", methods=["POST"], scope=COVERAGE_WRITE)
def project_coverage(principal, commit, language):
    return _coverage(principal, None, commit, language)


@api.route("/commit/{commit}/coverageFinal", methods=["POST"], scope=COVERAGE_WRITE)
def project_coverage_final(principal, commit):
    _bounded()
    return success(services().finish_coverage(principal, None, commit))


@api.route("/commit/{commit}/issuesRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def project_issues(principal, commit):
    return _analysis(principal, None, commit, "issues")


@api.route("/commit/{commit}/metricsRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def project_metrics(principal, commit):
    return _analysis(principal, None, commit, "metrics")


@api.route("/commit/{commit}/duplicationRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def project_duplication(principal, commit):
    return _analysis(principal, None, commit, "duplication")


@api.route("/commit/{commit}/resultsFinal", methods=["POST"], scope=ANALYSIS_WRITE)
def project_results_final(principal, commit):
    _bounded()
    return success(services().finish_results(principal, None, commit))


@api.route("/project/analysis/configuration", methods=["GET"], scope=ANALYSIS_WRITE)
def project_configuration(principal):
    return json_response(services().configuration(principal, None))


# -- account token: the path names the repository -------------------------------

@api.route(ACCOUNT + "/commit/{commit}/coverage/{language}", methods=["POST"], scope=COVERAGE_WRITE)
def account_coverage(principal, provider, username, project, commit, language):
    return _coverage(principal, RepositoryRef(provider, username, project), commit, language)


@api.route("/{provider}/{username}/commit/{commit}/coverage/{language}", methods=["POST"], scope=COVERAGE_WRITE)
def legacy_account_coverage(principal, provider, username, commit, language):
    # Really /2.0/{username}/{project}/commit/...: see the module docstring.
    return _coverage(principal, RepositoryRef(LEGACY_PROVIDER, provider, username), commit, language)


@api.route(ACCOUNT + "/commit/{commit}/coverageFinal", methods=["POST"], scope=COVERAGE_WRITE)
def account_coverage_final(principal, provider, username, project, commit):
    _bounded()
    return success(services().finish_coverage(principal, RepositoryRef(provider, username, project), commit))


@api.route(ACCOUNT + "/commit/{commit}/issuesRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def account_issues(principal, provider, username, project, commit):
    return _analysis(principal, RepositoryRef(provider, username, project), commit, "issues")


@api.route(ACCOUNT + "/commit/{commit}/metricsRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def account_metrics(principal, provider, username, project, commit):
    return _analysis(principal, RepositoryRef(provider, username, project), commit, "metrics")


@api.route(ACCOUNT + "/commit/{commit}/duplicationRemoteResults", methods=["POST"], scope=ANALYSIS_WRITE)
def account_duplication(principal, provider, username, project, commit):
    return _analysis(principal, RepositoryRef(provider, username, project), commit, "duplication")


@api.route(ACCOUNT + "/commit/{commit}/resultsFinal", methods=["POST"], scope=ANALYSIS_WRITE)
def account_results_final(principal, provider, username, project, commit):
    _bounded()
    return success(services().finish_results(principal, RepositoryRef(provider, username, project), commit))


@api.route(ACCOUNT + "/analysis/configuration", methods=["GET"], scope=ANALYSIS_WRITE)
def account_configuration(principal, provider, username, project):
    return json_response(services().configuration(principal, RepositoryRef(provider, username, project)))
