"""The audit trail: recording what happened to and with tokens, and reading it back.

Two ways to record, chosen per event:

- token creation and deletion: the service builds the event's items and the
  token store writes them *in the same transaction* as the token, so a token
  exists exactly when its creation is on record (and its deletion cannot be
  lost). Management calls are rare; the extra write units do not matter.
- expiry hits and denied uses: `record()` is best effort. It never raises:
  the trail must not turn a 401/403/404 into a 5xx, and a denied request must
  not wait on a failing table.

Malformed or unknown tokens are not written (they cost no storage call, and
anyone can send them): they are logged as a structured line, without the
token.
"""
import logging

from chalicelib.access import Action, Principal
from chalicelib.clock import utcnow
from chalicelib.models.audit import AuditEvent, repository_stream, user_stream
from chalicelib.request_meta import RequestMeta
from chalicelib.store.audit import AuditStore
from chalicelib.store.pagination import Page
from chalicelib.token_format import Kind

log = logging.getLogger("latchkey.audit")

CREATED = "token.created"
DELETED = "token.deleted"
DISABLED = "token.disabled"
EXPIRED = "token.expired"
DENIED = "token.denied"
REVOKED = "token.revoked"  # ended by value: a leak report, revoke-by-value, itself
PUBLISHER_CREATED = "publisher.created"
PUBLISHER_DELETED = "publisher.deleted"


def actor_of(principal: Principal | None) -> tuple[str, int | None]:
    if principal is None:
        return "operator", None
    if principal.kind is Kind.PROJECT:
        return f"project-token:{principal.token_id}", None
    return f"user:{principal.user_id}", principal.user_id


def owner_stream(owner: str) -> str:
    """The stream of a token owner (`user#<id>` / `repo#<full>`): the same spelling."""
    kind, _, rest = owner.partition("#")
    return user_stream(int(rest)) if kind == "user" else repository_stream(rest)


def publisher_summary(publisher) -> str:
    """A trusted publisher in one line (ids, never secrets)."""
    if publisher.kind == "github":
        parts = [f"{publisher.issuer} repository {publisher.subject} of owner {publisher.owner_id}"]
        if publisher.workflow:
            parts.append(f"workflow {publisher.workflow}")
        if publisher.environment:
            parts.append(f"environment {publisher.environment}")
    else:
        parts = [f"{publisher.issuer} project {publisher.subject} of namespace {publisher.owner_id}"]
        if publisher.ref:
            parts.append(f"ref {publisher.ref}")
    return ", ".join(parts)


class AuditService:
    def __init__(self, store: AuditStore | None = None, clock=utcnow):
        self.store = store or AuditStore()
        self.clock = clock

    # -- building events ---------------------------------------------------

    def token_items(self, action: str, token, *, principal: Principal | None,
                    meta: RequestMeta | None, reason: str | None = None,
                    actor: str | None = None) -> list[AuditEvent]:
        """The items recording `action` on `token`: in its owner's stream and,
        when a user acted on a repository's token, in that user's too.
        `actor` names an actor that is no principal ("publisher:<id>",
        "github-secret-scanning", "anonymous")."""
        actor_name, actor_user_id = actor_of(principal)
        actor = actor or actor_name
        streams = [owner_stream(token.owner)]
        if actor_user_id is not None:
            streams.append(user_stream(actor_user_id))
        repository = token.owner.partition("#")[2] if token.owner.startswith("repo#") else None
        meta = meta or RequestMeta()
        return self.store.items(
            streams, self.clock(), action=action,
            outcome="denied" if action in (EXPIRED, DENIED) else "success",
            actor=actor, actor_user_id=actor_user_id, token_id=int(token.token_id), token_hint=token.hint,
            token_kind=token.kind, repository=repository, source_ip=meta.source_ip,
            user_agent=meta.user_agent, reason=reason[:512] if reason else None,
        )

    def publisher_items(self, action: str, publisher, *, principal: Principal | None,
                        meta: RequestMeta | None) -> list[AuditEvent]:
        """A trusted publisher registered or removed: in the repository's stream
        and the acting user's."""
        actor, actor_user_id = actor_of(principal)
        streams = [repository_stream(publisher.repository)]
        if actor_user_id is not None:
            streams.append(user_stream(actor_user_id))
        meta = meta or RequestMeta()
        return self.store.items(
            streams, self.clock(), action=action, outcome="success", actor=actor, actor_user_id=actor_user_id,
            repository=publisher.repository, source_ip=meta.source_ip, user_agent=meta.user_agent,
            reason=f"trusted publisher {int(publisher.publisher_id)}: {publisher_summary(publisher)}"[:512],
        )

    # -- best-effort recording ---------------------------------------------

    def record_token(self, action: str, token, *, principal: Principal | None = None,
                     meta: RequestMeta | None = None, reason: str | None = None) -> bool:
        """Record an event about a stored token (expiry hit, disabled use, fan-out)."""
        return self._put(lambda: self.token_items(action, token, principal=principal, meta=meta, reason=reason),
                         action)

    def record_denied(self, principal: Principal, *, status: int, request: str,
                      meta: RequestMeta | None = None, reason: str | None = None) -> bool:
        """A known token was refused (403, or 404 on something it cannot see).

        Recorded in the stream of the token's owner, not of the target: the
        target may not exist, and a caller must not be able to write into the
        trail of a repository it has no access to.
        """
        def items():
            actor, actor_user_id = actor_of(principal)
            if principal.kind is Kind.PROJECT and principal.repository is not None:
                stream = repository_stream(principal.repository)
            elif principal.user_id is not None:
                stream = user_stream(principal.user_id)
            else:
                raise ValueError("a principal names its repository or its user")
            m = meta or RequestMeta()
            return self.store.items(
                [stream], self.clock(), action=DENIED, outcome="denied", actor=actor,
                actor_user_id=actor_user_id, token_id=principal.token_id, token_hint=principal.hint,
                token_kind=principal.kind.value, repository=principal.repository, source_ip=m.source_ip,
                user_agent=m.user_agent, request=request[:512], status=status, reason=(reason or "")[:256] or None,
            )

        return self._put(items, DENIED)

    def _put(self, build, action: str) -> bool:
        try:
            self.store.put(build())
        except Exception as error:  # noqa: BLE001 - by contract: the trail is best effort here
            log.warning("audit write failed: action=%s error=%s", action, type(error).__name__)
            return False
        return True

    # -- reading ---------------------------------------------------------------

    def page(self, stream: str, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        return self.store.page(stream, limit=limit, cursor=cursor)



class AuditReader:
    """Who may read which stream: a user their own, a repository admin the repository's."""

    def __init__(self, directory=None, audit: AuditService | None = None):
        if directory is None:
            from chalicelib.services.directory import DirectoryService

            directory = DirectoryService()
        self.directory = directory
        self.audit = audit or AuditService()

    def user_events(self, principal: Principal, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        user = self.directory.user(principal)
        return self.audit.page(user_stream(int(user.user_id)), limit=limit, cursor=cursor)

    def repository_events(self, principal: Principal, provider: str, org: str, repo: str,
                          *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        access = self.directory.repository(principal, provider, org, repo, Action.MANAGE_TOKENS)
        return self.audit.page(repository_stream(access.repository.full_name), limit=limit, cursor=cursor)
