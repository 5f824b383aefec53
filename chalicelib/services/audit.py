"""The audit trail: recording what happened to and with tokens, and reading it back.

Two ways to record, chosen per event:

- token creation and deletion: the service builds the event's items and the
  token store writes them *in the same transaction* as the token, so a token
  exists exactly when its creation is on record (and its deletion cannot be
  lost). Management calls are rare; the extra write units do not matter.
- expiry hits and denied uses: best effort, and at most one event per
  interval per token and reason, with the count of the requests it stands
  for (`Refusals`): a leaked token used in a loop must not flood its trail
  nor spend a write per request. It never raises: the trail must not turn a
  401/403/404 into a 5xx, and a denied request must not wait on a failing
  table.

Malformed or unknown tokens are not written (they cost no storage call, and
anyone can send them): they are logged as a structured line, without the
token.
"""
import hashlib
import logging
import threading
from collections import OrderedDict
from datetime import datetime, timezone

from chalicelib.access import Action, Principal
from chalicelib.clock import utcnow
from chalicelib.errors import NotFound
from chalicelib.models.audit import AuditEvent, repository_stream, user_stream
from chalicelib.owner_key import OwnerKey
from chalicelib.repository_ref import RepositoryRef
from chalicelib.request_meta import RequestMeta
from chalicelib.services.directory import DirectoryService
from chalicelib.store.audit import AuditStore
from chalicelib.store.pagination import Page
from chalicelib.token_format import Kind

log = logging.getLogger("latchkey.audit")

CREATED = "token.created"
DELETED = "token.deleted"
DISABLED = "token.disabled"
EXPIRED = "token.expired"
DENIED = "token.denied"
RETIRED = "token.retired"  # expired, out of the count, removed by TTL later
# The lifecycle (issue 16)
ROTATED = "token.rotated"
REUSED = "token.reused"
PAUSED = "token.paused"
RESUMED = "token.resumed"
EXPIRING = "token.expiring"
REVOKED = "token.revoked"  # ended by value: a leak report, revoke-by-value, itself
PUBLISHER_CREATED = "publisher.created"
PUBLISHER_DELETED = "publisher.deleted"
CONFIGURED = "configuration.updated"  # a repository's analysis configuration was set


def actor_of(principal: Principal | None) -> tuple[str, int | None]:
    if principal is None:
        return "operator", None
    if principal.kind is Kind.PROJECT:
        return f"project-token:{principal.token_id}", None
    return f"user:{principal.user_id}", principal.user_id


def owner_stream(owner: str) -> str:
    """The stream of a token owner: its owner key, the same spelling
    (ValueError for a string that spells no owner)."""
    return str(OwnerKey.parse(owner))


class Refusals:
    """Which refused uses this process has put on the trail, per interval.

    A refused use of a token (expired, owner disabled, refused by a route)
    is recorded at most once per interval per token and reason, as
    `lastUsedAt` is: the first refusal of an interval writes one event, the
    next ones in the interval write nothing and are counted here, and that
    count is folded into the token's next event for the same reason
    (`count`: the requests it stands for). The event's key is derived from
    Each event is written with a mark keyed by the token, the reason and the
    interval (`RefusalMark`), in one transaction, only if the mark does not
    exist: several function instances still write one event per interval,
    and the instance that loses keeps its count for the next one.

    Bounded: the least recently refused keys are forgotten first.
    """

    def __init__(self, interval_seconds: int, max_keys: int = 4096):
        self.interval = max(1, int(interval_seconds))
        self.max_keys = max_keys
        self._state: OrderedDict[tuple, tuple[int, int]] = OrderedDict()  # key -> (interval, uses not on record)
        self._lock = threading.Lock()

    def claim(self, key: tuple, now: datetime) -> tuple[int, int] | None:
        """(the interval's number, requests to record) if this use is to be
        written now; None if it is folded (this interval is on record)."""
        window = int(now.timestamp()) // self.interval
        with self._lock:
            recorded, pending = self._state.pop(key, (None, 0))
            self._state[key] = (window, pending + 1)
            while len(self._state) > self.max_keys:
                self._state.popitem(last=False)
        if recorded == window:
            return None
        return window, pending + 1

    def end_of(self, window: int) -> datetime:
        """When interval number `window` ends (its mark's TTL)."""
        return datetime.fromtimestamp((window + 1) * self.interval, tz=timezone.utc)

    def settle(self, key: tuple, written: int) -> None:
        """After the write: the `written` requests it recorded are no longer pending."""
        if written:
            with self._lock:
                if key in self._state:
                    window, pending = self._state[key]
                    self._state[key] = (window, max(0, pending - written))
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
    def __init__(self, store: AuditStore, refusals: Refusals, clock=utcnow):
        self.store = store
        self.refusals = refusals
        self.clock = clock

    # -- building events ---------------------------------------------------

    def token_items(self, action: str, token, *, principal: Principal | None,
                    meta: RequestMeta | None, reason: str | None = None,
                    actor: str | None = None, at=None, **key) -> list[AuditEvent]:
        """The items recording `action` on `token`: in its owner's stream and,
        when a user acted on a repository's token, in that user's too.
        `actor` names an actor that is no principal ("publisher:<id>",
        "github-secret-scanning", "anonymous")."""
        actor_name, actor_user_id = actor_of(principal)
        actor = actor or actor_name
        owner = OwnerKey.parse(token.owner)
        streams = [str(owner)]
        if actor_user_id is not None:
            streams.append(user_stream(actor_user_id))
        repository = getattr(token, "repository", None) if owner.is_repository else None
        meta = meta or RequestMeta()
        return self.store.items(
            streams, at or self.clock(), action=action,
            outcome="denied" if action in (EXPIRED, DENIED, REUSED) else "success",
            actor=actor, actor_user_id=actor_user_id, token_id=int(token.token_id), token_hint=token.hint,
            token_kind=token.kind, repository=repository, source_ip=meta.source_ip,
            user_agent=meta.user_agent, request=meta.request if action in (EXPIRED, DENIED) else None,
            reason=reason[:512] if reason else None, **key,
        )

    def publisher_items(self, action: str, publisher, *, principal: Principal | None,
                        meta: RequestMeta | None) -> list[AuditEvent]:
        """A trusted publisher registered or removed: in the repository's stream
        and the acting user's."""
        actor, actor_user_id = actor_of(principal)
        streams = [repository_stream(publisher.repository_id)]
        if actor_user_id is not None:
            streams.append(user_stream(actor_user_id))
        meta = meta or RequestMeta()
        return self.store.items(
            streams, self.clock(), action=action, outcome="success", actor=actor, actor_user_id=actor_user_id,
            repository=publisher.repository, source_ip=meta.source_ip, user_agent=meta.user_agent,
            reason=f"trusted publisher {int(publisher.publisher_id)}: {publisher_summary(publisher)}"[:512],
        )

    def configuration_items(self, repository_id: int, repository: str, *, principal: Principal | None,
                            meta: RequestMeta | None) -> list[AuditEvent]:
        """The items recording that `repository`'s analysis configuration was
        set: in the repository's stream and, when a user set it, in theirs."""
        actor, actor_user_id = actor_of(principal)
        streams = [repository_stream(repository_id)]
        if actor_user_id is not None:
            streams.append(user_stream(actor_user_id))
        meta = meta or RequestMeta()
        return self.store.items(
            streams, self.clock(), action=CONFIGURED, outcome="success", actor=actor,
            actor_user_id=actor_user_id, token_id=principal.token_id if principal else None,
            token_hint=principal.hint if principal else None,
            token_kind=principal.kind.value if principal else None, repository=repository,
            source_ip=meta.source_ip, user_agent=meta.user_agent,
        )

    # -- best-effort recording ---------------------------------------------

    def record_token(self, action: str, token, *, principal: Principal | None = None,
                     meta: RequestMeta | None = None, reason: str | None = None) -> bool:
        """Record an event about a stored token (fan-out by an operator)."""
        return self._put(lambda: self.token_items(action, token, principal=principal, meta=meta, reason=reason),
                         action)

    def record_refused_token(self, action: str, token, *, principal: Principal,
                             meta: RequestMeta | None = None, reason: str) -> bool:
        """A stored token refused by the authorizer (expired, owner disabled):
        at most one event per interval per token and reason (see `Refusals`)."""
        def items(at, count):
            return self.token_items(action, token, principal=principal, meta=meta, reason=reason,
                                    at=at, refused_requests=count)

        return self._refusal((int(principal.token_id), action, reason, None), items, action)

    def record_denied(self, principal: Principal, *, status: int, meta: RequestMeta | None = None,
                      reason: str | None = None) -> bool:
        """A known token was refused (403, or 404 on something it cannot see).

        Recorded in the stream of the token's owner, not of the target: the
        target may not exist, and a caller must not be able to write into the
        trail of a repository it has no access to. At most one event per
        interval per token, status and reason (see `Refusals`).
        """
        reason = (reason or "")[:256] or None

        def items(at, count):
            actor, actor_user_id = actor_of(principal)
            if principal.kind is Kind.PROJECT and principal.repository_id is not None:
                stream = repository_stream(principal.repository_id)
            elif principal.user_id is not None:
                stream = user_stream(principal.user_id)
            else:
                raise ValueError("a principal names its repository or its user")
            m = meta or RequestMeta()
            repository = str(principal.repository) if principal.repository is not None else None
            return self.store.items(
                [stream], at, action=DENIED, outcome="denied", actor=actor,
                actor_user_id=actor_user_id, token_id=principal.token_id, token_hint=principal.hint,
                token_kind=principal.kind.value, repository=repository, source_ip=m.source_ip,
                user_agent=m.user_agent, request=m.request, status=status, reason=reason, refused_requests=count,
            )

        return self._refusal((int(principal.token_id), DENIED, reason, status), items, DENIED)

    def _refusal(self, key: tuple, build, action: str) -> bool:
        """Write a refused use unless this interval's event for `key` is
        already written (then the use is folded into the next one)."""
        now = self.clock()
        claim = self.refusals.claim(key, now)
        if claim is None:
            return False
        interval, count = claim
        mark = self.store.mark(hashlib.sha256(repr(key).encode()).hexdigest()[:32], interval,
                               self.refusals.end_of(interval))
        written = self._put(lambda: build(now, count), action, mark=mark)
        self.refusals.settle(key, count if written else 0)
        return written

    def _put(self, build, action: str, mark=None) -> bool:
        try:
            return self.store.put(build(), mark=mark)
        except Exception as error:  # noqa: BLE001 - by contract: the trail is best effort here
            log.warning("audit write failed: action=%s error=%s", action, type(error).__name__)
            return False

    # -- reading ---------------------------------------------------------------

    def page(self, stream: str, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        return self.store.page(stream, limit=limit, cursor=cursor)



class AuditReader:
    """Who may read which stream: a user their own, a repository admin the repository's."""

    def __init__(self, directory: DirectoryService, audit: AuditService):
        self.directory = directory
        self.audit = audit

    def user_events(self, principal: Principal, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        user = self.directory.user(principal)
        return self.audit.page(user_stream(int(user.user_id)), limit=limit, cursor=cursor)

    def repository_events(self, principal: Principal, repository: RepositoryRef,
                          *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        return self.audit.page(repository_stream(access.repository.repository_id), limit=limit, cursor=cursor)

    def deleted_repository_events(self, principal: Principal, provider: str, org: str, repository_id: int,
                                  *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        """The trail of a deleted repository of `org`: for the organization's admins.

        Its repository admins lost their grants with it; the organization's
        admins administered it and keep seeing what happened to it (its
        tokens deleted by the deletion, among others). A repository that was
        never deleted, or belonged to another organization, is NotFound.
        """
        self.directory.organization_admin(principal, provider, org)
        if self.directory.store.deleted_repository(provider, org, repository_id) is None:
            raise NotFound()
        return self.audit.page(repository_stream(repository_id), limit=limit, cursor=cursor)
