"""The adapter between Chalice and the domain: the only place a domain
error becomes an HTTP response, a request body becomes data, and the
authorizer context becomes a `Principal`.

Routes are registered on an `ApiBlueprint`: protected by the token
authorizer unless declared `public=True`, handed their `principal`, and
answered with `{"error": ...}` JSON on every failure.
"""
import functools
import inspect
import json
import logging
import uuid

from chalice import Blueprint, Response

from chalicelib import authorizer, refusals
from chalicelib.access import Principal, check_scope
from chalicelib.api.gateway import TOKEN_AUTHORIZER
from chalicelib.errors import (
    BadRequest,
    LatchkeyError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
    status_of,
)
from chalicelib.wiring import root

log = logging.getLogger("latchkey")

# Clients send JSON, but curl and some reporters label it otherwise; the
# body is parsed as JSON whatever the label says.
BODY_CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
]
MAX_LIMIT = 100


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def no_content() -> Response:
    return Response(body="", status_code=204)


def error_response(error: LatchkeyError) -> Response:
    headers = {}
    if isinstance(error, (Unavailable, TooManyRequests)):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return json_response({"error": error.message}, status_of(error), headers)


def current_principal(request) -> Principal:
    """The principal the authorizer validated, or the error it decided on
    (`chalicelib.refusals.DENIALS`; an unknown denial is not found)."""
    context = (request.context or {}).get("authorizer") or {}
    denial = context.get("denial")
    if denial == refusals.REUSED.code:
        revoke_reused(request, context)
    if denial:
        raise refusals.DENIALS[denial].exception() if denial in refusals.DENIALS else NotFound()
    if "kind" not in context:
        # Reachable only if a protected route were served without the
        # authorizer: refuse rather than run unauthenticated.
        raise NotFound()
    return Principal.from_context(context)


def request_id(blueprint) -> str:
    """API Gateway's id of the request (what its logs and ours carry), else Lambda's."""
    request = getattr(blueprint, "current_request", None)
    gateway_id = ((getattr(request, "context", None) or {}).get("requestId")) if request is not None else None
    context = getattr(blueprint, "lambda_context", None)
    return gateway_id or getattr(context, "aws_request_id", None) or str(uuid.uuid4())


def revoke_reused(request, context: dict) -> None:
    """A rotated-away token used after its grace period (the authorizer's
    verdict): revoke its family now, before answering 404 as revoked. A
    failure to revoke is a 503 (the next use tries again), never a 200."""
    root().tokens.revoke_reused(int(context.get("tokenId") or 0), meta=request_meta(request))


# Each route a project token may reach declares the scope it needs
# (`scope=`); a project token limited to scopes is refused everywhere else.
NO_SCOPE = None


class ApiBlueprint(Blueprint):
    def route(self, path: str, public: bool = False, scope: str | None = NO_SCOPE, **kwargs):
        if not public:
            kwargs.setdefault("authorizer", TOKEN_AUTHORIZER)
        kwargs.setdefault("content_types", BODY_CONTENT_TYPES)
        register = super().route(path, **kwargs)

        def decorator(view):
            wants_principal = "principal" in inspect.signature(view).parameters

            @functools.wraps(view)
            def wrapped(**params):
                try:
                    if not public:
                        principal = current_principal(self.current_request)
                        check_scope(principal, scope)
                        if wants_principal:
                            params["principal"] = principal
                    return with_token_expiration(self.current_request, view(**params))
                except LatchkeyError as error:
                    if not public and status_of(error) in DENIED_USE_STATUSES:
                        record_denied_use(self.current_request, path, error)
                    return with_token_expiration(self.current_request, error_response(error))
                except Exception:
                    rid = request_id(self)
                    log.exception("unhandled error in %s %s (request %s)", self.current_request.method, path, rid)
                    return json_response({"error": "internal error", "requestId": rid}, 500)

            register(wrapped)
            return view

        return decorator


TOKEN_EXPIRATION_HEADER = "Latchkey-Token-Expiration"  # a header name, not a secret  # nosec B105


def with_token_expiration(request, response):
    """`response` with `Latchkey-Token-Expiration` when the token that
    authorized it has an expiry (the authorizer put it in its context, so it
    costs no read): CI can warn before its token dies."""
    context = (getattr(request, "context", None) or {}).get("authorizer") or {}
    expiration = context.get(authorizer.CONTEXT_EXPIRATION)
    if expiration and isinstance(response, Response):
        response.headers[TOKEN_EXPIRATION_HEADER] = str(expiration)
    return response


def json_body(request, *, max_bytes: int, default=None):
    """The request body as JSON, within `max_bytes`; `default` when empty.

    Deeply nested input would exhaust the recursion of `json.loads`: it is
    answered as bad input, never as a 500.
    """
    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"body: larger than {max_bytes} bytes")
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadRequest("body: nested too deeply", field="body") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body: not valid JSON", field="body") from None


def json_object(request, *, max_bytes: int, allowed: set[str]) -> dict:
    """A JSON object body with no keys outside `allowed` ({} when empty)."""
    body = json_body(request, max_bytes=max_bytes, default={})
    if not isinstance(body, dict):
        raise BadRequest("body: a JSON object is expected", field="body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field", field=unknown[0])
    return body


def pagination(request) -> tuple[int, str | None]:
    """`limit` (1-100, default 100) and `cursor` from the query string."""
    params = request.query_params or {}
    raw_limit = params.get("limit")
    limit = MAX_LIMIT
    if raw_limit not in (None, ""):
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise BadRequest(f"limit: an integer from 1 to {MAX_LIMIT}", field="limit")
        limit = int(raw_limit)
    return limit, params.get("cursor") or None


def created_response(data) -> Response:
    """201, the created resource as `data`."""
    return json_response({"data": data}, status=201)


def paged_response(request, find, render) -> Response:
    """A list route's answer: the page `find(limit=..., cursor=...)` returns
    for the request's pagination, each item rendered."""
    limit, cursor = pagination(request)
    return json_response(page_body(find(limit=limit, cursor=cursor), render))


def page_body(page, render) -> dict:
    return {"data": [render(item) for item in page.items], "pagination": pagination_body(page)}


def pagination_body(page) -> dict:
    """A page's `pagination`: its limit, the total if known, the next page's cursor if any."""
    pagination_info = {"limit": page.limit}
    if page.total is not None:
        pagination_info["total"] = page.total
    if page.cursor:
        pagination_info["cursor"] = page.cursor
    return pagination_info


def path_id(raw: str) -> int:
    """A numeric id from the path; ids that cannot exist are simply not found."""
    # isdigit() alone admits "²", which int() refuses: ASCII digits only.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or not 0 < int(raw) < 2**53:
        raise NotFound()
    return int(raw)


def json_errors(event, get_response):
    """Middleware: give Chalice's own error answers (405, 415) our `{"error"}` shape."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body and "error" not in body:
        response.body = {"error": str(body.get("Message") or body["Code"])}
    return response


# -- the audit trail -------------------------------------------------------

# A known token refused by the API itself: seen but not allowed (403), or
# asking for something it cannot see (404).
DENIED_USE_STATUSES = (403, 404)


def request_meta(request):
    """Source IP, user agent and request line of a request, redacted, for
    the audit trail (`RequestMeta.of` is the one place that cleans them)."""
    from chalicelib.request_meta import RequestMeta

    context = getattr(request, "context", None) or {}
    identity = context.get("identity") or {}
    headers = getattr(request, "headers", None) or {}
    path = concrete_path(request, getattr(request, "path", None) or "")
    return RequestMeta.of(identity.get("sourceIp"), identity.get("userAgent") or headers.get("user-agent"),
                          getattr(request, "method", None), path)


def concrete_path(request, path: str) -> str:
    """The path asked for: Chalice gives the route template and its parameters."""
    concrete = request.path or path
    for name, value in (request.uri_params or {}).items():
        concrete = concrete.replace("{" + name + "}", str(value))
    return concrete


def record_denied_use(request, path: str, error: LatchkeyError) -> None:
    """Put a denied use by a known token on the trail; never fails the answer.

    Only a request the authorizer let through has a principal; one it
    denied (401 expired, 400 ambiguous) is recorded by the authorizer or not
    at all.
    """
    try:
        context = (request.context or {}).get("authorizer") or {}
        if context.get("denial") or "kind" not in context:
            return
        principal = Principal.from_context(context)
        root().audit.record_denied(principal, status=status_of(error), meta=request_meta(request),
                                      reason=error.message)
    except Exception:  # noqa: BLE001 - the trail is best effort; the answer stands
        log.warning("audit of a denied use failed in %s", path)
