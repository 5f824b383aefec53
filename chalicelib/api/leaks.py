"""Leaked tokens die in minutes (docs/secret-scanning.md): GitHub's
secret-scanning partner endpoint, the public revoke-by-value endpoint, and a
token revoking itself. All three end tokens through
`chalicelib.services.revocation.RevocationService.revoke`."""
import hashlib
from datetime import timedelta

from chalicelib.access import ANY_SCOPE
from chalicelib.api.http import ApiBlueprint, json_body, json_object, json_response, no_content, request_meta
from chalicelib.errors import BadRequest, TooManyRequests
from chalicelib.wiring import root

api = ApiBlueprint(__name__)

# A GitHub batch may hold many tokens: bounded in bytes and entries, each
# field bounded; the lookups go 100 a call (RevocationService).
MAX_REPORT_BYTES = 4 * 1024 * 1024
MAX_REPORT_ENTRIES = 10_000
MAX_REVOKE_BYTES = 256 * 1024
MAX_REVOKE_CREDENTIALS = 1000
MAX_CREDENTIAL_CHARS = 256
MAX_FIELD_CHARS = 2048
GITHUB_ACTOR = "github-secret-scanning"
ANONYMOUS_ACTOR = "anonymous"


def services():
    """(RevocationService, GithubKeys, ClaimStore), from the composition root."""
    return root().revocation, root().github_keys, root().claim_store


def revoke_limit() -> int:
    """Revocation requests a minute from one source address (REVOKE_REQUESTS_PER_MINUTE)."""
    from chalicelib.settings import get_settings

    return get_settings().revoke_requests_per_minute


def _header(request, name: str) -> str | None:
    headers = request.headers or {}
    value = headers.get(name) if hasattr(headers, "get") else None
    return value if isinstance(value, str) else None


def _text(entry: dict, name: str) -> str | None:
    value = entry.get(name)
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else None


@api.route("/secret-scanning/github", methods=["POST"], public=True)
def github_secret_scanning():
    """Public, but only GitHub's signature makes it act."""
    from chalicelib import token_format
    from chalicelib.jwt_verify import KeysUnavailable
    from chalicelib.secret_scanning import KEY_ID_HEADER, SIGNATURE_HEADER, SignatureError
    from chalicelib.services.revocation import LEAKED

    request = api.current_request
    revocation, keys, _ = services()
    raw = request.raw_body or b""
    if len(raw) > MAX_REPORT_BYTES:
        return json_response({"error": f"body: larger than {MAX_REPORT_BYTES} bytes"}, 413)
    try:
        keys.verify(raw, _header(request, KEY_ID_HEADER), _header(request, SIGNATURE_HEADER))
    except SignatureError as error:
        status = 401 if error.reason == "missing signature" else 403
        return json_response({"error": f"signature: {error.reason}"}, status)
    except KeysUnavailable:
        return json_response({"error": "GitHub's keys cannot be fetched now; retry"}, 503, {"Retry-After": "5"})
    report = json_body(request, max_bytes=MAX_REPORT_BYTES, default=None)
    if not isinstance(report, list) or not all(isinstance(e, dict) for e in report):
        raise BadRequest("body: a JSON array of {token, type, url, source} is expected", field="body")
    if len(report) > MAX_REPORT_ENTRIES:
        raise BadRequest(f"body: at most {MAX_REPORT_ENTRIES} tokens a report", field="body")
    entries = [(e.get("token") if isinstance(e.get("token"), str) else "", e) for e in report]
    where = {}
    for value, entry in entries:
        if value and value not in where:
            found_at = token_format.redact(_text(entry, "url") or "an unknown place")
            where[value] = f"found by GitHub secret scanning at {found_at} ({_text(entry, 'source') or '?'})"
    results = revocation.revoke(
        [value for value, _ in entries if value], reason=LEAKED, details=where, actor=GITHUB_ACTOR,
        meta=request_meta(request), leaked=True)
    live = {r.credential for r in results if r.live}
    feedback = [
        {"token_hash": hashlib.sha256(value.encode()).hexdigest(), "token_type": _text(entry, "type"),
         "label": "true_positive" if value in live else "false_positive"}
        for value, entry in entries
    ]
    return json_response(feedback)


@api.route("/credentials/revoke", methods=["POST"], public=True)
def revoke_credentials():
    """Public: whoever holds a token may end it. Always 202, whatever existed."""
    from chalicelib.clock import utcnow
    from chalicelib.services.revocation import BY_VALUE

    request = api.current_request
    revocation, _, claims = services()
    meta = request_meta(request)
    now = utcnow()
    window = now.strftime("%Y-%m-%dT%H:%M")
    limit = revoke_limit()
    if not claims.hit(f"rate#revoke#{meta.source_ip or 'unknown'}", window, limit=limit,
                      expires=now + timedelta(minutes=2)):
        raise TooManyRequests(f"at most {limit} revocation requests a minute from one address",
                              retry_after_seconds=60 - now.second)
    body = json_object(request, max_bytes=MAX_REVOKE_BYTES, allowed={"credentials"})
    credentials = body.get("credentials")
    if (not isinstance(credentials, list) or not credentials
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_CREDENTIAL_CHARS for c in credentials)):
        raise BadRequest(f"credentials: a list of 1 to {MAX_REVOKE_CREDENTIALS} token strings", field="credentials")
    if len(credentials) > MAX_REVOKE_CREDENTIALS:
        raise BadRequest(f"credentials: at most {MAX_REVOKE_CREDENTIALS} a request", field="credentials")
    revocation.revoke(credentials, reason=BY_VALUE, actor=ANONYMOUS_ACTOR, meta=meta)
    # Never say which existed: the answer must not be an oracle.
    return json_response({"success": f"{len(credentials)} credentials received; any live token among "
                                     "them is revoked"}, 202)


@api.route("/tokens/self", methods=["DELETE"], scope=ANY_SCOPE)
def revoke_self(principal):
    """The token that sends this ends itself (a CI job that suspects its runner)."""
    from chalicelib.authorizer import presented_tokens
    from chalicelib.errors import NotFound
    from chalicelib.services.revocation import BY_ITSELF

    request = api.current_request
    revocation, _, _ = services()
    event = {"headers": dict(request.headers or {})}
    presented = presented_tokens(event)
    if len(presented) != 1:
        raise NotFound()
    results = revocation.revoke([presented[0][0]], reason=BY_ITSELF, actor=None, meta=request_meta(request),
                                principal=principal)
    if not results or results[0].token is None or int(results[0].token.token_id) != principal.token_id:
        raise NotFound()
    return no_content()


