"""What a refused request gets from API Gateway itself: the gateway's own
answers, deployed by `infra.gateway` into the REST API and answered by the
local gateway (`chalicelib.api.local_gateway`), so both answer alike.

Chalice-free and settings-free: `infra/` and `scripts/` import it.
"""
import re

from chalicelib.errors import NotFound, Unauthenticated, Unavailable

# The context key of a Deny's hint (`chalicelib.authorizer` sets it on every Deny).
HINT_KEY = "hintJson"

# API Gateway response type -> (status, JSON body, extra headers).
GATEWAY_RESPONSES = {
    # The authorizer returned a Deny policy: unknown, revoked, malformed.
    "ACCESS_DENIED": (404, {"error": NotFound.default_message}, {}),
    # The authorizer raised Exception("Unauthorized"): no token was sent.
    "UNAUTHORIZED": (401, {"error": Unauthenticated.default_message}, {}),
    # The authorizer failed (DynamoDB unreachable or throttled).
    "AUTHORIZER_FAILURE": (503, {"error": Unavailable.default_message}, {"Retry-After": "1"}),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, {"error": "internal error"}, {}),
    # No route matches (API Gateway's default is a 403 "Missing
    # Authentication Token", which clients would misread as a token problem).
    "MISSING_AUTHENTICATION_TOKEN": (404, {"error": "no such route"}, {}),
}

# Answers whose body carries a value of the authorizer's context. API
# Gateway substitutes `$context.authorizer.<key>` in a gateway response's
# template (plain substitution, not VTL); the local gateway renders the
# same template with `render_template`. The authorizer sets `hintJson` on
# every Deny: "" (the body is exactly `{"error":"not found"}`, the
# contract), or `,"hint":"..."` for a recognisable newcomer's mistake (its
# text is ours, never the caller's value).
GATEWAY_TEMPLATES = {
    "ACCESS_DENIED": '{"error":"not found"$context.authorizer.' + HINT_KEY + "}",
}


def render_template(template: str, context: dict) -> str:
    """A gateway response template with the authorizer's context put in, as
    API Gateway renders it (a key it lacks becomes "")."""
    return re.sub(r"\$context\.authorizer\.([A-Za-z0-9_]+)", lambda m: str(context.get(m.group(1), "")), template)


# Every other answer API Gateway makes itself (throttling 429, a body over
# Lambda's 6 MB, a Lambda crash or timeout 502/504...) keeps its status but
# gets an `{"error": ...}` body: Codacy's clients look for that string.
# Deployed only (the local server has no such failures); a template, as
# API Gateway renders it.
GATEWAY_DEFAULT_TEMPLATES = {
    "DEFAULT_4XX": '{"error":$context.error.messageString}',
    "DEFAULT_5XX": '{"error":$context.error.messageString}',
}
