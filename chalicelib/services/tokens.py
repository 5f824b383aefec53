"""Creating, listing and revoking account and project API tokens."""
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from chalicelib import scopes as limits
from chalicelib import token_format
from chalicelib.access import Action, Principal, require_account
from chalicelib.clock import utcnow
from chalicelib.errors import BadRequest, Conflict, NotFound, Unavailable
from chalicelib.models.directory import Repository, User
from chalicelib.models.tokens import Token, repository_owner, user_owner
from chalicelib.repository_ref import RepositoryRef
from chalicelib.request_meta import OPERATOR, RequestMeta
from chalicelib.services import audit as audit_events
from chalicelib.services.audit import AuditService
from chalicelib.services.directory import DirectoryService
from chalicelib.settings import Settings
from chalicelib.store.pagination import Page
from chalicelib.store.tokens import LimitReached, TokenLifecycleStore, TokenStore
from chalicelib.token_format import Kind

MAX_GRACE_SECONDS = 86_400

NAME_PATTERN = re.compile(r"[A-Za-z0-9-]{1,100}")
# An expired token is removed by DynamoDB TTL this long after its expiry.
REMOVE_AFTER_EXPIRY_DAYS = 30


@dataclass(frozen=True)
class NewToken:
    """A token just created: the only moment its value exists outside the caller."""

    value: str
    token: Token


def validate_name(name) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadRequest("name: at most 100 letters, digits and dashes", field="name")
    return name


def token_settings(kind: Kind, *, scopes=None, allowed_cidrs=None, max_uses=None) -> dict:
    """The stored form of a new token's limits (API names in the errors)."""
    if scopes is not None and kind is not Kind.PROJECT:
        raise BadRequest("scopes: only project tokens carry scopes", field="scopes")
    stored = {
        "scopes": limits.validate_scopes(scopes),
        "allowed_cidrs": limits.validate_cidrs(allowed_cidrs),
        "max_uses": limits.validate_max_uses(max_uses),
    }
    return {key: value for key, value in stored.items() if value is not None}


def parse_grace(value) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GRACE_SECONDS:
        raise BadRequest(f"gracePeriodSeconds: an integer from 0 to {MAX_GRACE_SECONDS}",
                         field="gracePeriodSeconds")
    return value


def parse_disabled(value) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("disabled: true or false", field="disabled")
    return value


@dataclass(frozen=True)
class Rotation:
    """A rotation's outcome: the successor (its value shown once) and the
    retired token, working until its grace period ends."""

    successor: NewToken
    previous: Token


def parse_expiry(value, now: datetime, max_days: int) -> datetime | None:
    """An `expiresAt` value: ISO-8601, in the future, at most `max_days` ahead."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest("expiresAt: an ISO-8601 date-time is expected", field="expiresAt")
    try:
        expires_at = datetime.fromisoformat(value)
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=timezone.utc)
        # A UTC offset can push year 1 or 9999 out of range: OverflowError.
        expires_at = expires_at.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise BadRequest("expiresAt: an ISO-8601 date-time is expected", field="expiresAt") from None
    if expires_at <= now:
        raise BadRequest("expiresAt: must be in the future", field="expiresAt")
    if expires_at > now + timedelta(days=max_days):
        raise BadRequest(f"expiresAt: must be at most {max_days} days ahead", field="expiresAt")
    return expires_at


class TokenService:
    def __init__(self, tokens: TokenStore, lifecycle: TokenLifecycleStore, directory: DirectoryService,
                 audit: AuditService, settings: Settings, clock=utcnow):
        self.tokens = tokens
        self.lifecycle = lifecycle
        self.directory = directory
        self.audit = audit
        self.settings = settings
        self.clock = clock

    # -- account tokens ----------------------------------------------------

    def create_account_token(self, principal: Principal, *, name=None, expires_at=None,
                             meta: RequestMeta | None = None, **settings) -> NewToken:
        user = self.directory.user(principal)
        return self.issue_account_token(user, name=name, expires_at=expires_at, principal=principal, meta=meta,
                                        **settings)

    def issue_account_token(self, user: User, *, name=None, expires_at=None,
                            principal: Principal | None = None, meta: RequestMeta | None = None,
                            **settings) -> NewToken:
        """An account token for `user` (also the operators' bootstrap path:
        no `principal`, recorded as done by the operator)."""
        if user.disabled:
            raise BadRequest(f"user {user.email} is disabled")
        now = self.clock()
        return self._create(
            Kind.ACCOUNT, user_owner(user.user_id), created_by=user.user_id,
            name=validate_name(name),
            expires_at=parse_expiry(expires_at, now, self.settings.max_token_lifetime_days),
            write=self._write_for_user(user.user_id), now=now,
            principal=principal, meta=meta if principal else (meta or OPERATOR),
            **token_settings(Kind.ACCOUNT, **settings),
        )

    def account_tokens(self, principal: Principal, *, limit: int, cursor: str | None) -> Page[Token]:
        user = self.directory.user(principal)
        return self._listed(self.tokens.page(user_owner(user.user_id), limit=limit, cursor=cursor, now=self.clock()))

    def delete_account_token(self, principal: Principal, token_id: int, *, meta: RequestMeta | None = None) -> None:
        user_id = require_account(principal)
        self._delete(user_owner(user_id), token_id, principal=principal, meta=meta)

    # -- project tokens ----------------------------------------------------

    def create_project_token(self, principal: Principal, repository: RepositoryRef,
                             *, name=None, expires_at=None, meta: RequestMeta | None = None,
                             **settings) -> NewToken:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        now = self.clock()
        live = access.repository
        return self._create(
            Kind.PROJECT, repository_owner(live.repository_id), created_by=principal.user_id,
            repository=live.full_name,
            name=validate_name(name),
            expires_at=parse_expiry(expires_at, now, self.settings.max_token_lifetime_days),
            write=self._write_for_repository(live), now=now,
            principal=principal, meta=meta, **token_settings(Kind.PROJECT, **settings),
        )

    def project_tokens(self, principal: Principal, repository: RepositoryRef,
                       *, limit: int, cursor: str | None) -> Page[Token]:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        return self._listed(self.tokens.page(repository_owner(access.repository.repository_id), limit=limit,
                                             cursor=cursor, now=self.clock()))

    def delete_project_token(self, principal: Principal, repository: RepositoryRef, token_id: int,
                             *, meta: RequestMeta | None = None) -> None:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        self._delete(repository_owner(access.repository.repository_id), token_id, principal=principal, meta=meta)

    # -- operators ---------------------------------------------------------

    def issue_project_token(self, repository, *, name=None, expires_at=None) -> NewToken:
        """A project token for `repository`, made by an operator (no principal)."""
        now = self.clock()
        return self._create(
            Kind.PROJECT, repository_owner(repository.repository_id), created_by=None,
            repository=repository.full_name, name=validate_name(name),
            expires_at=parse_expiry(expires_at, now, self.settings.max_token_lifetime_days),
            write=self._write_for_repository(repository), now=now,
            principal=None, meta=OPERATOR,
        )

    def tokens_of_user(self, user_id: int) -> list[Token]:
        return sorted(self.tokens.all_of(user_owner(user_id)), key=lambda token: token.created_at)

    def enable_tokens_of_user(self, user_id: int) -> int:
        """Re-enable a user's disabled account tokens that have not expired; the count."""
        now = self.clock()
        enabled = 0
        for token in self.tokens.all_of(user_owner(user_id)):
            if token.disabled and (token.expires_at is None or token.expires_at > now):
                self.tokens.enable(token)
                enabled += 1
        return enabled

    # -- what the console shows ------------------------------------------------

    def account_token(self, principal: Principal, token_id: int) -> Token:
        """One of the caller's own account tokens (NotFound for anyone else's)."""
        user = self.directory.user(principal)
        token = self.tokens.find_by_id(token_id)
        if token is None or token.owner != user_owner(user.user_id):
            raise NotFound()
        return token

    def project_token_listing(self, principal: Principal, repository: RepositoryRef,
                              *, limit: int, cursor: str | None):
        """(access, page) of a repository's project tokens for anyone who may
        read the repository: names, hints and dates, never a value. Only
        `access.role` ADMIN may manage them."""
        access = self.directory.repository(principal, repository, Action.READ)
        return access, self._listed(self.tokens.page(repository_owner(access.repository.repository_id), limit=limit,
                                                     cursor=cursor, now=self.clock()))

    def project_token(self, principal: Principal, repository: RepositoryRef, token_id: int):
        """(access, token): one project token of a repository the caller may read."""
        access = self.directory.repository(principal, repository, Action.READ)
        token = self.tokens.find_by_id(token_id)
        if token is None or token.owner != repository_owner(access.repository.repository_id):
            raise NotFound()
        return access, token

    # -- fan-out (operators) ----------------------------------------------

    def disable_tokens_of_user(self, user_id: int) -> int:
        """Disable a user's enabled account tokens; how many this call disabled
        (a token disabled already, by an earlier run, is not counted again)."""
        disabled = 0
        for token in self.tokens.all_of(user_owner(user_id)):
            if not token.disabled:
                self.tokens.disable(token)
                self.audit.record_token(audit_events.DISABLED, token, meta=OPERATOR, reason="owner disabled")
                disabled += 1
        return disabled

    def delete_tokens_of_repository(self, repository_id: int) -> int:
        tokens = self.tokens.all_of(repository_owner(repository_id))
        for token in tokens:
            self.tokens.delete(token, audit_items=self._audit_items(
                audit_events.DELETED, token, principal=None, meta=OPERATOR, reason="repository deleted"))
        return len(tokens)

    # -- expired tokens ----------------------------------------------------

    def retire_expired(self, tokens) -> int:
        """Retire the expired tokens among `tokens`: they stop counting toward
        their owner's limit and DynamoDB TTL removes them 30 days after they
        expired (see chalicelib.models.tokens). Their retirement is on the
        audit trail. How many were retired. Also for a periodic sweeper."""
        now = self.clock()
        retired = 0
        for token in tokens:
            # A rotated-away token left the count already (and stays for reuse detection).
            if token.retired or token.rotated_at is not None or token.expires_at is None or token.expires_at > now:
                continue
            removal_at = token.expires_at + timedelta(days=REMOVE_AFTER_EXPIRY_DAYS)
            reason = (f"expired at {token.expires_at.isoformat(timespec='seconds')}; no longer counted; "
                      f"removed after {removal_at.date().isoformat()}")
            items = self._audit_items(audit_events.RETIRED, token, principal=None, meta=None, reason=reason)
            if self.tokens.retire(token, now, removal_at, audit_items=items):
                retired += 1
        return retired

    def _listed(self, page: Page[Token]) -> Page[Token]:
        """A page of tokens, its expired tokens retired on the way (best
        effort: a list must not fail on it); `total` counts tokens that count
        toward the limit."""
        try:
            retired = self.retire_expired(page.items)
        except Unavailable:
            return page
        if not retired or page.total is None:
            return page
        return Page(items=page.items, cursor=page.cursor, limit=page.limit, total=max(0, page.total - retired))

    # -- shared ------------------------------------------------------------

    def _audit_items(self, action, token, *, principal, meta, reason=None):
        return self.audit.token_items(action, token, principal=principal, meta=meta, reason=reason)

    def _write_for_user(self, user_id) -> "functools.partial[Token]":
        """How a new account token of `user_id` is stored: within the account
        limit, while the user is enabled."""
        return functools.partial(self.tokens.create_for_user, user_id=int(user_id),
                                 limit=self.settings.max_account_tokens)

    def _write_for_repository(self, repository: Repository) -> "functools.partial[Token]":
        """How a new project token of `repository` is stored: within the
        project limit, while this very repository exists."""
        return functools.partial(self.tokens.create_for_repository, repository=repository,
                                 limit=self.settings.max_project_tokens)

    def _create(self, kind, owner, *, created_by, name, expires_at, write, now,
                principal=None, meta=None, attributes=None, actor=None, reason=None, repository=None,
                **settings) -> NewToken:
        """A new token, stored by `write(token, audit=...)` (`_write_for_user`,
        `_write_for_repository`)."""
        value = token_format.generate(kind)
        token = Token(
            token_format.digest(value),
            kind=kind.value, owner=owner, repository=repository, token_id=0, name=name,
            hint=token_format.hint(value), created_at=now, created_by=created_by,
            expires_at=expires_at, disabled=False, **(attributes or {}), **settings,
        )
        # The creation is recorded in the token's own transaction (see
        # chalicelib.services.audit): the items are built once the id is drawn.
        def create():
            return write(
                token,
                audit=lambda t: self.audit.token_items(audit_events.CREATED, t, principal=principal, meta=meta,
                                                       reason=reason, actor=actor),
            )

        try:
            stored = create()
        except LimitReached:
            # Expired tokens do not count: retire them, then try once more.
            if not self.retire_expired(self.tokens.all_of(owner)):
                raise
            stored = create()
        return NewToken(value, stored)

    # -- keyless CI ----------------------------------------------------------

    def mint_project_token(self, repository, publisher, *, lifetime_seconds: int, reason: str,
                           meta: RequestMeta | None = None) -> NewToken:
        """A project token of `repository` that dies `lifetime_seconds` from
        now, minted by trusted `publisher` (no person acts: the CI identity
        token was the authorization). Counted like any project token; when the
        limit is reached, the repository's expired minted tokens are swept
        and the creation tried once more."""
        now = self.clock()
        owner = repository_owner(repository.repository_id)

        def create():
            return self._create(
                Kind.PROJECT, owner, created_by=None, name=None,
                expires_at=now + timedelta(seconds=lifetime_seconds),
                # The repository must still be the one the publisher was
                # registered on when the token is written (deleted meanwhile: NotFound).
                write=self._write_for_repository(repository), now=now, meta=meta,
                attributes={"publisher_id": int(publisher.publisher_id), "publisher_issuer": publisher.issuer},
                repository=repository.full_name,
                actor=f"publisher:{int(publisher.publisher_id)}", reason=reason,
            )

        try:
            return create()
        except LimitReached:
            if not self.sweep_expired_minted(owner):
                raise
            return create()

    def sweep_expired_minted(self, owner: str) -> int:
        """Delete an owner's minted tokens that have expired; how many."""
        now = self.clock()
        swept = 0
        for token in self.tokens.all_of(owner):
            if token.publisher_id is not None and token.expires_at is not None and token.expires_at <= now:
                items = self._audit_items(audit_events.DELETED, token, principal=None, meta=OPERATOR,
                                          reason="expired minted token swept")
                swept += self.tokens.delete(token, audit_items=items)
        return swept

    def _delete(self, owner: str, token_id: int, *, principal=None, meta=None) -> None:
        token = self.tokens.find_by_id(token_id)
        # Another owner's token is answered exactly like a missing one.
        if token is None or token.owner != owner:
            raise NotFound()
        items = self._audit_items(audit_events.DELETED, token, principal=principal, meta=meta)
        if not self.tokens.delete(token, audit_items=items):
            again = self.tokens.find_by_id(token_id)
            if again is not None and again.owner == owner and bool(again.retired) != bool(token.retired):
                # Retired between the read and the delete: delete it as it is now.
                token = again
                items = self._audit_items(audit_events.DELETED, token, principal=principal, meta=meta)
                if self.tokens.delete(token, audit_items=items):
                    return
            # Gone since it was read. If this request's own deletion event is
            # on record, an earlier send of this very transaction committed
            # and botocore resent it after its answer was lost: the delete
            # succeeded, for this caller. Anyone else's deletion is NotFound.
            if items and self.audit.store.exists(items[0]):
                return
            raise NotFound()

    # -- the lifecycle: rotation, pause, reuse (issue 16) -------------------

    def rotate_account_token(self, principal: Principal, token_id: int, *, grace_period_seconds=None,
                             expires_at=None, meta: RequestMeta | None = None) -> Rotation:
        user = self.directory.user(principal)
        rotate = functools.partial(self.lifecycle.rotate_for_user, user_id=int(user.user_id))
        return self._rotate(user_owner(user.user_id), token_id, grace_period_seconds, expires_at,
                            rotate=rotate, principal=principal, meta=meta)

    def rotate_project_token(self, principal: Principal, repository: RepositoryRef, token_id: int,
                             *, grace_period_seconds=None, expires_at=None,
                             meta: RequestMeta | None = None) -> Rotation:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        rotate = functools.partial(self.lifecycle.rotate_for_repository, repository=access.repository)
        return self._rotate(repository_owner(access.repository.repository_id), token_id, grace_period_seconds,
                            expires_at, rotate=rotate, principal=principal, meta=meta)

    def set_account_token_disabled(self, principal: Principal, token_id: int, disabled,
                                   *, meta: RequestMeta | None = None) -> Token:
        user = self.directory.user(principal)
        return self._set_paused(user_owner(user.user_id), token_id, disabled, principal=principal, meta=meta)

    def set_project_token_disabled(self, principal: Principal, repository: RepositoryRef,
                                   token_id: int, disabled, *, meta: RequestMeta | None = None) -> Token:
        access = self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        return self._set_paused(repository_owner(access.repository.repository_id), token_id, disabled,
                                principal=principal, meta=meta)

    def revoke_reused(self, token_id: int, *, meta: RequestMeta | None = None) -> int:
        """A rotated-away token was presented after its grace period: a sign
        of theft. Revoke its whole family (the live successor first) and put
        the reuse on the trail. The number of tokens revoked."""
        token = self.tokens.find_by_id(token_id)
        now = self.clock()
        if token is None or token.rotated_at is None or token.expires_at is None or token.expires_at > now:
            return 0  # already revoked by a concurrent request, or not a reuse after all
        self.audit.record_token(audit_events.REUSED, token, meta=meta,
                                reason="rotated-away token used after its grace period; family revoked")
        return self.revoke_family(token, reason=f"reuse of rotated-away token {int(token.token_id)}")

    def revoke_family(self, token: Token, *, reason: str) -> int:
        """Delete every token of `token`'s lineage, live ones first."""
        family = self.lifecycle.family(token.owner, token.family)
        family.sort(key=lambda t: t.rotated_at is not None)
        revoked = 0
        for member in family:
            items = self._audit_items(audit_events.DELETED, member, principal=None, meta=OPERATOR, reason=reason)
            revoked += bool(self.tokens.delete(member, audit_items=items))
        return revoked

    def _owned(self, owner: str, token_id: int) -> Token:
        token = self.tokens.find_by_id(token_id)
        # Another owner's token is answered exactly like a missing one.
        if token is None or token.owner != owner or token.disabled:
            raise NotFound()
        return token

    def _rotate(self, owner, token_id, grace_period_seconds, expires_at, *, rotate, principal,
                meta) -> Rotation:
        """Rotate token `token_id` of `owner`, stored by `rotate(old, successor, ...)`
        (the lifecycle store's `rotate_for_user` or `rotate_for_repository`)."""
        grace = parse_grace(grace_period_seconds)
        now = self.clock()
        new_expiry = parse_expiry(expires_at, now, self.settings.max_token_lifetime_days)
        old = self._owned(owner, token_id)
        if old.rotated_at is not None:
            raise Conflict("this token was already rotated (it is in, or past, its grace period); "
                           f"rotate its successor (id {int(old.successor_id or 0)})")
        if old.expires_at is not None and old.expires_at <= now:
            raise Conflict("an expired token cannot be rotated; create a new one")
        grace_ends = now + timedelta(seconds=grace)
        if old.expires_at is not None and old.expires_at < grace_ends:
            grace_ends = old.expires_at  # a grace period never extends a token's life
        if new_expiry is None and old.expires_at is not None:
            # The successor gets the lifetime its predecessor was given.
            lifetime = min(old.expires_at - old.created_at, timedelta(days=self.settings.max_token_lifetime_days))
            new_expiry = now + lifetime
        kind = Kind(old.kind)
        value = token_format.generate(kind)
        successor = Token(
            token_format.digest(value), kind=old.kind, owner=old.owner, repository=old.repository, token_id=0,
            name=old.name, hint=token_format.hint(value), created_at=now,
            created_by=principal.user_id if principal.user_id is not None else old.created_by,
            expires_at=new_expiry, disabled=False, family_id=old.family, scopes=old.scopes,
            allowed_cidrs=old.allowed_cidrs, max_uses=old.max_uses, paused=old.paused,
        )

        def audit_items(new):
            return (
                self._audit_items(audit_events.CREATED, new, principal=principal, meta=meta,
                                  reason=f"rotation of token {int(old.token_id)}")
                + self._audit_items(audit_events.ROTATED, old, principal=principal, meta=meta,
                                    reason=f"rotated to token {int(new.token_id)}; grace period {grace}s")
            )

        # Only the direct predecessor keeps a grace period: an older one
        # still in its own ends now (its next use is then a reuse).
        end_grace = [
            member for member in self.lifecycle.family(old.owner, old.family)
            if member.rotated_at is not None and member.pk != old.pk
            and member.expires_at is not None and member.expires_at > now
        ]
        stored = rotate(old, successor, grace_ends=grace_ends, now=now, audit_items=audit_items,
                        end_grace=end_grace)
        old.rotated_at, old.successor_id, old.family_id, old.expires_at = now, stored.token_id, old.family, grace_ends
        return Rotation(NewToken(value, stored), old)

    def _set_paused(self, owner, token_id, disabled, *, principal, meta) -> Token:
        paused = parse_disabled(disabled)
        token = self._owned(owner, token_id)
        if bool(token.paused) == paused:
            return token
        updated = self.lifecycle.set_paused(token, paused)
        if updated is None:
            raise NotFound()
        self.audit.record_token(audit_events.PAUSED if paused else audit_events.RESUMED, updated,
                                principal=principal, meta=meta)
        return updated
