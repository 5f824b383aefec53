"""Logs and metrics of both Lambda functions, configured in one place.

Deployed, every log line of the `chalicelib.*` loggers and of Chalice's app
logger (`latchkey`) is one JSON object (AWS Lambda Powertools' Logger) with
`level`, `message`, `function_request_id` (Lambda's), `request_id` (API
Gateway's: the id a 500 answer carries), `route`, and `token_kind` /
`token_id` once the authorizer knows them. The level is `LOG_LEVEL`
(default INFO). Token values are never put in a log line: only ids.

Metrics are CloudWatch embedded metric format (EMF) objects written to
stdout, which CloudWatch Logs turns into metrics: no API call. Namespace
`Latchkey`, dimension `Service` (the stage's resource prefix):

- `AuthorizerDecisions`, by `Outcome` (allowed, missing, malformed, unknown,
  disabled, expired, ambiguous, misplaced);
- `Uploads` (count) and `UploadBytes`, by `Kind` (coverage, coverageFinal,
  issuesRemoteResults, metricsRemoteResults, duplicationRemoteResults, resultsFinal);
- `ServerErrors`: answers of the API function with a 5xx status.

Locally (`make run`, tests) logs stay plain text and no metrics are written
unless `configure(..., metrics=True)` asks for them.

Powertools is imported only by `configure()`, which the Lambda entry
points call once per process: docs/benchmarks.md has its cold-start cost.
"""
import logging
import os
import sys

from chalicelib import refusals

SERVICE = "latchkey"
NAMESPACE = "Latchkey"
LOGGERS = ("chalicelib", "latchkey")

_state: dict = {"logger": None, "metrics": False}


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def _level() -> str:
    from chalicelib.settings import get_settings

    return get_settings().log_level


def configure(stream=None, *, metrics: bool = True, function: str | None = None):
    """JSON logs (and EMF metrics) for this process; idempotent.

    `stream` defaults to stdout, which Lambda sends to CloudWatch Logs.
    """
    from aws_lambda_powertools import Logger

    if _state["logger"] is None or stream is not None:
        logger = Logger(service=SERVICE, level=_level(), stream=stream or sys.stdout,
                        log_record_order=["level", "message", "timestamp"])
        handler = logger.registered_handler
        for name in LOGGERS:
            target = logging.getLogger(name)
            if target is not logger._logger:
                target.handlers = [handler]
                target.propagate = False
            target.setLevel(_level())
        _state["logger"] = logger
    _state["metrics"] = metrics
    if function:
        _state["logger"].append_keys(function=function)
    return _state["logger"]


def configure_local(stream) -> None:
    """`make run`: plain lines at LOG_LEVEL, no metrics."""
    logging.basicConfig(stream=stream, level=_level(), format="%(message)s")
    for name in LOGGERS:
        logging.getLogger(name).setLevel(_level())
    _state["metrics"] = False


def reset() -> None:
    """Back to unconfigured (tests)."""
    _state.update(logger=None, metrics=False)
    for name in LOGGERS:
        target = logging.getLogger(name)
        target.handlers = []
        target.propagate = True
        target.setLevel(logging.NOTSET)
        for attribute in ("init", "powertools_handler", "powertools_buffer_config", "powertools_buffer_cache"):
            target.__dict__.pop(attribute, None)  # Powertools' marks of a configured logger


# -- per-request context ------------------------------------------------------


def bind(**keys) -> None:
    """Add keys to every log line until `unbind` (no-op when not configured).

    None values are dropped; never pass a token value.
    """
    logger = _state["logger"]
    if logger is not None:
        logger.append_keys(**{k: v for k, v in keys.items() if v is not None})


def unbind() -> None:
    logger = _state["logger"]
    if logger is not None:
        logger.remove_keys(["function_request_id", "request_id", "route", "token_kind", "token_id"])


def request_ids(event: dict, lambda_context) -> dict:
    """Lambda's and API Gateway's request ids of an invocation."""
    request_context = (event or {}).get("requestContext") or {}
    lambda_id = getattr(lambda_context, "aws_request_id", None)
    return {"function_request_id": lambda_id, "request_id": request_context.get("requestId") or lambda_id}


def bind_principal(context: dict) -> None:
    """Token kind and id from an authorizer context (never the token)."""
    if context and context.get("kind"):
        bind(token_kind=str(context["kind"]), token_id=str(context.get("token_id") or context.get("tokenId") or ""))


# -- metrics ------------------------------------------------------------------


def metric(name: str, value: float = 1, unit: str = "Count", **dimensions: str) -> None:
    """One EMF metric, written at once (no API call). No-op unless enabled."""
    if not _state["metrics"]:
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from chalicelib.settings import get_settings

    with single_metric(name=name, unit=getattr(MetricUnit, unit), value=value, namespace=NAMESPACE) as emitted:
        emitted.add_dimension(name="Service", value=get_settings().resource_prefix)
        for key, dimension in dimensions.items():
            emitted.add_dimension(name=key, value=str(dimension))


def authorizer_outcome(outcome: str) -> None:
    metric("AuthorizerDecisions", Outcome=outcome)


# -- the entry points -----------------------------------------------------------


def authorizer_invocation(handle, event: dict, lambda_context):
    """Run the authorizer's `handle(event)` with its ids bound and its outcome
    counted (the outcomes the decision itself shows; the others are counted
    where they are decided, in chalicelib.authorizer)."""
    bind(**request_ids(event, lambda_context), route=_route_of(event))
    try:
        try:
            decision = handle(event)
        except Exception as error:
            if str(error) == refusals.UNAUTHORIZED_MESSAGE:
                authorizer_outcome(str(refusals.UNAUTHORIZED.outcome))
            raise
        context = decision.get("context") or {}
        if decision.get("principalId", "").startswith("token:") and not context.get("denial"):
            bind_principal(context)
            authorizer_outcome("allowed")
        return decision
    finally:
        unbind()


def _route_of(event: dict) -> str | None:
    method = event.get("httpMethod") or ((event.get("requestContext") or {}).get("httpMethod"))
    resource = event.get("resource") or ((event.get("requestContext") or {}).get("resourcePath"))
    return f"{method} {resource}" if method and resource else None


UPLOAD_KINDS = ("coverage", "coverageFinal", "issuesRemoteResults", "metricsRemoteResults",
                "duplicationRemoteResults", "resultsFinal")


def upload_kind(route: str) -> str | None:
    """Which upload a route template is (Codacy's name for it), if any."""
    if not route.startswith("/2.0/"):
        return None
    literal = [segment for segment in route.split("/") if segment and not segment.startswith("{")]
    kinds = [segment for segment in literal if segment in UPLOAD_KINDS]
    return kinds[-1] if kinds else None


def http_middleware(event, get_response):
    """Chalice middleware of the API function: ids, route and principal on
    every log line; 5xx answers and uploads counted."""
    request_context = event.context or {}
    route = f"{event.method} {request_context.get('resourcePath') or event.path}"
    bind(**request_ids({"requestContext": request_context}, getattr(event, "lambda_context", None)), route=route)
    bind_principal(request_context.get("authorizer") or {})
    try:
        response = get_response(event)
        if response.status_code >= 500:
            metric("ServerErrors")
        elif response.status_code < 300 and event.method in ("POST", "PUT"):
            kind = upload_kind(request_context.get("resourcePath") or event.path or "")
            if kind:
                metric("Uploads", Kind=kind)
                metric("UploadBytes", len(event.raw_body or b""), "Bytes", Kind=kind)
        return response
    finally:
        unbind()
