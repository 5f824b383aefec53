"""What a refused request gets: one table, for each refusal its status and
body, the event it leaves on the audit trail and the reason it is logged
and counted under.

The table drives all three places that answer a refusal, so they cannot
diverge: the authorizer (`chalicelib.authorizer`: what it decides, logs and
audits), the API (`chalicelib.api.http`: the answer to a denial the
authorizer hands it), and API Gateway's own answers (`GATEWAY_RESPONSES`,
deployed by `infra.gateway` and answered by the local gateway,
`chalicelib.api.local_gateway`).

Chalice-free and settings-free: `infra/` and `scripts/` import it.
"""
import re
from dataclasses import dataclass

from chalicelib.errors import (
    BadRequest,
    Forbidden,
    LatchkeyError,
    NotFound,
    TokenDisabled,
    TokenExpired,
    Unauthenticated,
    Unavailable,
)


@dataclass(frozen=True)
class Refusal:
    """One way a request is refused.

    `code` names it: the `denial` an authorizer's Allow hands the API, the
    outcome of a Deny, or an API Gateway response type. The caller gets
    `error`'s status and `{"error": message}` (the error's default message
    unless `message` says otherwise). `outcome` is the reason the authorizer
    logs and counts it under (`AuthorizerDecisions`; None: not counted
    there); `audit_action`/`audit_reason` the event a known token's refusal
    leaves on its trail (None: nothing is written).
    """

    code: str
    error: type[LatchkeyError]
    message: str | None = None
    outcome: str | None = None
    audit_action: str | None = None
    audit_reason: str | None = None

    @property
    def status(self) -> int:
        return self.error.status

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.message or self.error.default_message}

    @property
    def headers(self) -> dict[str, str]:
        """A retryable failure says when to retry, as the API's own 503 does."""
        retry_after = getattr(self.error, "retry_after_seconds", None)
        return {"Retry-After": str(retry_after)} if retry_after else {}

    def exception(self) -> LatchkeyError:
        """The error the API raises for this refusal."""
        return self.error(self.message)


# The audit actions of a refused token (`chalicelib.services.audit` records
# them under the same names; tests/test_architecture.py checks).
TOKEN_DENIED = "token.denied"  # an audit action, not a secret  # nosec B105
TOKEN_EXPIRED = "token.expired"  # an audit action, not a secret  # nosec B105

# -- refused with a Deny: API Gateway answers ACCESS_DENIED, 404 not found ----
# Nothing is written for a token that is not known: anyone can send
# garbage, and writing it down would let them spend our write capacity.
MALFORMED = Refusal("malformed", NotFound, outcome="malformed")
UNKNOWN = Refusal("unknown", NotFound, outcome="unknown")
# No token header, but a latchkey token in Authorization (with a hint).
IN_AUTHORIZATION = Refusal("authorization-header", NotFound, outcome="authorization-header")
USE_LIMIT = Refusal("use-limit", NotFound, outcome="use limit reached")
OWNER_DISABLED = Refusal("disabled", NotFound, outcome="disabled",
                         audit_action=TOKEN_DENIED, audit_reason="owner disabled")
DENIED = (MALFORMED, UNKNOWN, IN_AUTHORIZATION, USE_LIMIT, OWNER_DISABLED)

# -- refused with an Allow carrying `denial`: the API answers ----------------
# (the gateway can give only one status to all Deny answers).
EXPIRED = Refusal("expired", TokenExpired, outcome="expired",
                  audit_action=TOKEN_EXPIRED, audit_reason="expired")
AMBIGUOUS = Refusal("ambiguous", BadRequest,
                    "two different tokens were sent; send exactly one (api-token or project-token)",
                    outcome="ambiguous")
MISPLACED = Refusal("misplaced", BadRequest,
                    "token sent in the wrong header: account tokens (lka_) go in api-token, "
                    "project tokens (lkp_) in project-token",
                    outcome="misplaced")
# The lifecycle (issue 16): paused by its owner, used from outside its allowedCidrs.
PAUSED = Refusal("paused", TokenDisabled, outcome="paused",
                 audit_action=TOKEN_DENIED, audit_reason="token disabled")
SOURCE = Refusal("source", Forbidden, "source address not allowed", outcome="source",
                 audit_action=TOKEN_DENIED, audit_reason="source address not allowed")
# A rotated-away token used after its grace period: the API revokes its
# family (the authorizer's role may not), then answers it as revoked.
REUSED = Refusal("reused", NotFound)
# A console page without a live session: the console sends the browser to sign in.
SIGN_IN = Refusal("sign-in", NotFound, outcome="sign-in")
DENIALS = {refusal.code: refusal for refusal in (EXPIRED, AMBIGUOUS, MISPLACED, PAUSED, SOURCE, REUSED, SIGN_IN)}

# -- answered by API Gateway itself (response types) -------------------------
# The authorizer returned a Deny policy: every refusal of DENIED.
ACCESS_DENIED = Refusal("ACCESS_DENIED", NotFound)
# The authorizer raised exactly this message: no token was sent.
UNAUTHORIZED_MESSAGE = "Unauthorized"
UNAUTHORIZED = Refusal("UNAUTHORIZED", Unauthenticated, outcome="missing")
# The authorizer failed (DynamoDB unreachable or throttled).
AUTHORIZER_FAILURE = Refusal("AUTHORIZER_FAILURE", Unavailable)
AUTHORIZER_CONFIGURATION_ERROR = Refusal("AUTHORIZER_CONFIGURATION_ERROR", LatchkeyError)
# No route matches (API Gateway's default is a 403 "Missing Authentication
# Token", which clients would misread as a token problem).
MISSING_AUTHENTICATION_TOKEN = Refusal("MISSING_AUTHENTICATION_TOKEN", NotFound, "no such route")

# API Gateway response type -> (status, JSON body, extra headers).
GATEWAY_RESPONSES = {
    refusal.code: (refusal.status, refusal.body, refusal.headers)
    for refusal in (ACCESS_DENIED, UNAUTHORIZED, AUTHORIZER_FAILURE, AUTHORIZER_CONFIGURATION_ERROR,
                    MISSING_AUTHENTICATION_TOKEN)
}

# The context key of a Deny's hint (`chalicelib.authorizer` sets it on every Deny).
HINT_KEY = "hintJson"

# Answers whose body carries a value of the authorizer's context. API
# Gateway substitutes `$context.authorizer.<key>` in a gateway response's
# template (plain substitution, not VTL); the local gateway renders the
# same template with `render_template`. The authorizer sets `hintJson` on
# every Deny: "" (the body is exactly `{"error":"not found"}`, the
# contract), or `,"hint":"..."` for a recognisable newcomer's mistake (its
# text is ours, never the caller's value).
GATEWAY_TEMPLATES = {
    ACCESS_DENIED.code: '{"error":"' + ACCESS_DENIED.body["error"] + '"$context.authorizer.' + HINT_KEY + "}",
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
