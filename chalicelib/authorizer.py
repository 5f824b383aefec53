"""The Lambda authorizer: one token in, one decision out.

It runs as its own Lambda function, as an API Gateway REQUEST authorizer,
so it sees every header spelling Codacy's clients use (`api-token`,
`api_token`, `project-token`, `project_token`). Its answers:

- no token at all: `Exception("Unauthorized")`, which API Gateway turns into
  its UNAUTHORIZED gateway response (401);
- malformed, unknown, revoked, or owner disabled/deleted: a Deny policy,
  answered by the ACCESS_DENIED gateway response as 404 `{"error":"not found"}`;
- expired, or ambiguous (two different tokens, or a token under the other
  kind's header): an Allow carrying a `denial` in the context; the API
  answers it with its own status (401 / 400) before any route runs;
- otherwise an Allow whose context is the `Principal`.

Console pages (`/console...`) are authenticated by the session cookie
instead (`_console`): no token is looked at there, and a page without a live
session is an Allow carrying the `sign-in` denial, answered by the console
with a redirect to sign in. The cookie costs one read, like a token.

A malformed token costs no DynamoDB call; a well-formed one costs exactly
one strongly consistent GetItem, plus a "last used" write at most once per
interval. Nothing else is imported here: every Lambda cold start pays for
what this module imports.

What each refusal answers, logs and audits is `chalicelib.refusals`' table.
"""
import json
import logging
from datetime import datetime, timedelta

from chalicelib import refusals, telemetry, token_format, wiring
from chalicelib.access import Principal
from chalicelib.owner_key import OwnerKey
from chalicelib.refusals import HINT_KEY, Refusal
from chalicelib.repository_ref import RepositoryRef
from chalicelib.request_meta import RequestMeta
from chalicelib.token_format import Kind

log = logging.getLogger(__name__)

HEADER_KINDS = {
    "api-token": Kind.ACCOUNT,
    "api_token": Kind.ACCOUNT,
    "project-token": Kind.PROJECT,
    "project_token": Kind.PROJECT,
}

# The token's expiry, in GitHub's format, for the API's Latchkey-Token-Expiration.
CONTEXT_EXPIRATION = "tokenExpiration"


def expiration_context(token) -> dict:
    """`{CONTEXT_EXPIRATION: "YYYY-MM-DD HH:MM:SS UTC"}` for a token with an expiry, else {}."""
    if token.expires_at is None:
        return {}
    return {CONTEXT_EXPIRATION: token.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")}


class Decision(dict):
    """An authorizer answer in API Gateway's format."""

    @classmethod
    def build(cls, effect: str, principal_id: str, resource: str, context: dict) -> "Decision":
        return cls(
            principalId=principal_id,
            policyDocument={
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}],
            },
            context=context,
        )


def presented_tokens(event: dict) -> list[tuple[str, Kind | None]]:
    """Every distinct token the request carries, in any spelling and every
    value of a repeated header, with the kind of header it came in: None
    when the same token came under both kinds' headers. Sorted, so that the
    answer never depends on the order of the headers."""
    found: dict[str, set[Kind]] = {}
    multi = event.get("multiValueHeaders") or {}
    single = event.get("headers") or {}
    for name, values in list(multi.items()) + [(k, [v]) for k, v in single.items()]:
        kind = HEADER_KINDS.get(name.lower())
        for value in values or ():
            if kind is not None and isinstance(value, str) and value.strip():
                found.setdefault(value.strip(), set()).add(kind)
    return sorted((value, next(iter(kinds)) if len(kinds) == 1 else None) for value, kinds in found.items())


# Newcomers' mistakes recognisable without any lookup: the answer stays 404
# `{"error":"not found"}` (the contract), with a `hint` that never repeats
# the value sent.
HINT_QUOTES = "remove the quotes around the token"
HINT_SCHEME = "send the token alone in the header, without 'Bearer ' or 'token '"
HINT_PLACEHOLDER = "lka_... is a placeholder: use the token value you were given (shown once at creation)"
HINT_AUTHORIZATION = (
    "send the token in the api-token header (account tokens, lka_) or project-token (project tokens, lkp_), "
    "not in Authorization"
)
_SCHEMES = ("bearer ", "token ")


def mistake_hint(raw: str) -> str | None:
    """A hint for a token header value that fails the format, if its mistake is recognisable."""
    if raw[:1] in ("'", '"') or raw[-1:] in ("'", '"'):
        return HINT_QUOTES
    if raw.lower().startswith(_SCHEMES):
        return HINT_SCHEME
    if raw.startswith(("lka_", "lkp_")) and ("..." in raw or "\u2026" in raw):
        return HINT_PLACEHOLDER
    return None


def authorization_hint(event: dict) -> str | None:
    """A hint when no token header came but `Authorization` holds what looks
    like a latchkey token (`Bearer lka_...`, or the token alone)."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization")
    if not isinstance(value, str):
        return None
    value = value.strip()
    for scheme in _SCHEMES:
        if value.lower().startswith(scheme):
            value = value[len(scheme):].strip()
    return HINT_AUTHORIZATION if value.strip("'\"").startswith(("lka_", "lkp_")) else None


def policy_resource(method_arn: str, ttl_seconds: int) -> str:
    """What an Allow covers.

    Without caching, exactly the method called. With caching, API Gateway
    reuses one answer for every route the same token calls, so it must
    cover the whole stage (`arn:...:api-id/stage/*`).
    """
    if ttl_seconds <= 0:
        return method_arn
    parts = method_arn.split("/", 2)
    return "/".join(parts[:2] + ["*"])


def principal_of(token, kind: Kind) -> Principal:
    """Who a stored token speaks for: its owner is a user or a repository, by
    id (chalicelib.owner_key); a project token also carries its repository's name."""
    if kind is not Kind.PROJECT:
        return Principal(kind=kind, token_id=int(token.token_id), user_id=OwnerKey.parse(token.owner).id,
                         hint=token.hint, scopes=token.scopes or None)
    # A project token from before ids keyed owners (`repo#<name>`) names no
    # id: it matches no repository (see DirectoryService.repository).
    owner = OwnerKey.find(token.owner)
    name = getattr(token, "repository", None)
    return Principal(
        kind=kind,
        token_id=int(token.token_id),
        repository=RepositoryRef.parse(name, owner.id if owner is not None else None) if name else None,
        hint=token.hint,
        scopes=token.scopes or None,
    )


def is_console(event: dict) -> bool:
    """A request for a console page (`/console...`), by its route."""
    resource = event.get("resource") or event.get("path") or ""
    return resource == "/console" or resource.startswith("/console/")


class TokenAuthorizer:
    """The decision, on the pieces of `root` (`chalicelib.wiring`).

    It takes the root, not the pieces: each is built when a decision first
    needs it (the token store for a well-formed token, the audit service for
    a known token refused, the session store for a console page), so that a
    cold start pays for nothing more.
    """

    def __init__(self, root: "wiring.Root"):
        self.root = root
        self.clock = root.clock
        self.settings = root.settings

    @property
    def store(self):
        return self.root.token_store

    def __call__(self, event: dict) -> Decision:
        method_arn = event.get("methodArn", "")
        if is_console(event):
            return self._console(event, method_arn)
        presented = self._presented(event, method_arn)
        if isinstance(presented, Decision):
            return presented
        raw, kind = presented
        token = self.store.find(token_format.digest(raw))
        if token is None or token.kind != kind.value:
            return self._refuse(refusals.UNKNOWN, event, method_arn)
        return self._decide(token, principal_of(token, kind), event, method_arn)

    def _presented(self, event: dict, method_arn: str) -> tuple[str, Kind] | Decision:
        """The one well-formed token the request carries, in its kind's
        header; else the refusal (no read: the headers say it)."""
        presented = presented_tokens(event)
        if not presented:
            hint = authorization_hint(event)
            if hint is None:
                raise Exception(refusals.UNAUTHORIZED_MESSAGE)  # the exact message API Gateway maps to 401
            # a latchkey token in Authorization: not found, with a hint
            return self._refuse(refusals.IN_AUTHORIZATION, event, method_arn, hint=hint)
        if len(presented) > 1:
            return self._refuse(refusals.AMBIGUOUS, event, method_arn)
        raw, header_kind = presented[0]
        kind = token_format.parse(raw)
        if kind is None:
            return self._refuse(refusals.MALFORMED, event, method_arn, hint=mistake_hint(raw))
        if kind is not header_kind:
            return self._refuse(refusals.MISPLACED, event, method_arn)
        return raw, kind

    def _decide(self, token, principal: Principal, event: dict, method_arn: str) -> Decision:
        """A known token: refused by its own item, or allowed (its use counted)."""
        now = self.clock()
        refusal = self._token_refusal(token, now, event)
        if refusal is refusals.REUSED:
            # The family is revoked by the API Lambda, whose role may delete
            # tokens (this function's may not): the denial carries the token's id.
            return self._refuse(refusal, event, method_arn, context={"tokenId": str(principal.token_id)})
        if refusal is not None:
            context = expiration_context(token) if refusal is refusals.EXPIRED else {}
            return self._refuse(refusal, event, method_arn, token=token, principal=principal, context=context)
        if token.max_uses is not None:
            if not self.store.use(token, now, touch=self._stale(token.last_used_at, now)):
                return self._refuse(refusals.USE_LIMIT, event, method_arn)
        elif self._stale(token.last_used_at, now):
            self.store.touch(token, now)
        resource = policy_resource(method_arn, self.settings.authorizer_ttl_seconds)
        context = {**principal.to_context(), **expiration_context(token)}
        return Decision.build("Allow", f"token:{principal.token_id}", resource, context)

    @staticmethod
    def _token_refusal(token, now: datetime, event: dict) -> Refusal | None:
        """What refuses a known token, from its item alone (no read): its
        owner disabled, rotated away, expired, paused, or used from outside
        its allowedCidrs."""
        if token.disabled:
            return refusals.OWNER_DISABLED
        if token.expires_at is not None and token.expires_at <= now:
            return refusals.REUSED if token.rotated_at is not None else refusals.EXPIRED
        if token.paused:
            return refusals.PAUSED
        if token.allowed_cidrs:
            from chalicelib.scopes import source_allowed

            # The address API Gateway saw the connection come from, never a
            # header a client can set (X-Forwarded-For and the like).
            if not source_allowed(RequestMeta.from_event(event).source_ip, list(token.allowed_cidrs)):
                return refusals.SOURCE
        return None

    def _refuse(self, refusal: Refusal, event: dict, method_arn: str, *, token=None,
                principal: Principal | None = None, hint: str | None = None, context: dict | None = None) -> Decision:
        """`refusal`'s decision, counted, and audited (a known token) or logged.

        A refusal of `refusals.DENIED` is a Deny, which the gateway answers;
        any other is an Allow for this one method only, carrying the denial,
        which the API answers.
        """
        if refusal.outcome is not None:
            telemetry.authorizer_outcome(refusal.outcome)
        denied = refusal in refusals.DENIED
        if refusal.audit_action is not None and principal is not None:
            self._audit(token, principal, refusal, event)
        elif denied:
            self._rejected(refusal, event)
        if denied:
            return self._deny(method_arn, hint)
        return Decision.build("Allow", "anonymous", method_arn, {"denial": refusal.code, **(context or {})})

    def _stale(self, last_used_at: datetime | None, now: datetime) -> bool:
        interval = self.settings.last_used_interval_seconds
        return last_used_at is None or (now - last_used_at).total_seconds() >= interval

    @property
    def audit(self):
        return self.root.audit

    def _audit(self, token, principal: Principal, refusal: Refusal, event: dict) -> None:
        """A known token refused: on the trail, in its own name, best effort
        (at most one write, at most once per interval and reason; never raises)."""
        action, reason = str(refusal.audit_action), str(refusal.audit_reason)
        try:
            self.audit.record_refused_token(action, token, principal=principal,
                                            meta=RequestMeta.from_event(event), reason=reason)
        except Exception:  # noqa: BLE001 - the decision stands whatever the trail does
            log.warning("audit write failed: action=%s", action)

    @staticmethod
    def _rejected(refusal: Refusal, event: dict) -> None:
        """A token refused before (or by) its one read: a log line, never a write.

        Anyone can send garbage; writing it down would let them spend our
        write capacity. The token itself is never logged.
        """
        meta = RequestMeta.from_event(event)  # redacted there, like every stored request field
        log.info("token rejected: reason=%s source_ip=%s user_agent=%r request=%s",
                 refusal.outcome, meta.source_ip, meta.user_agent, meta.request)

    # -- the web console: the session cookie, and nothing else -----------------

    @property
    def sessions(self):
        return self.root.session_store

    def _console(self, event: dict, method_arn: str) -> Decision:
        """A console request: its session cookie, one read. API tokens are not
        looked at (a console page is never driven by a token), and a missing,
        unknown or dead session is sent to sign in."""
        from chalicelib import session_cookie

        secret = session_cookie.cookie_values(event.get("headers") or {}, event.get("multiValueHeaders")).get(
            session_cookie.SESSION_COOKIE)
        if not session_cookie.well_formed(secret):
            return self._refuse(refusals.SIGN_IN, event, method_arn)
        session = self.sessions.find(session_cookie.digest(str(secret)))
        now = self.clock()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        if session is None or session.expires_at <= now or session.last_seen_at + idle <= now:
            return self._refuse(refusals.SIGN_IN, event, method_arn)
        self.sessions.touch(session, now)
        principal = Principal(kind=Kind.ACCOUNT, token_id=0, user_id=int(session.user_id), hint="console session")
        context = {**principal.to_context(), "session": session.pk, "csrf": session.csrf}
        return Decision.build("Allow", f"session:{int(session.user_id)}", method_arn, context)

    def _deny(self, method_arn: str, hint: str | None = None) -> Decision:
        # HINT_KEY is always set: the gateway's template puts it in the body as is.
        fragment = "," + json.dumps({"hint": hint})[1:-1] if hint else ""
        return Decision.build("Deny", "anonymous", method_arn, {"reason": "not-found", HINT_KEY: fragment})


def handle(event: dict) -> Decision:
    """The Lambda entry point: the root's authorizer (built once per process)."""
    return wiring.root().authorizer(event)
