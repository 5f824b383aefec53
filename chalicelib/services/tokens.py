"""Creating, listing and revoking account and project API tokens."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from chalicelib import token_format
from chalicelib.access import Action, Principal, require_account
from chalicelib.clock import utcnow
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models.directory import DirectoryItem, Repository, User, org_key, repo_sort_key, user_key
from chalicelib.models.tokens import Token, repository_owner, user_owner
from chalicelib.request_meta import OPERATOR, RequestMeta
from chalicelib.services import audit as audit_events
from chalicelib.services.audit import AuditService
from chalicelib.services.directory import DirectoryService
from chalicelib.settings import get_settings
from chalicelib.store.pagination import Page
from chalicelib.store.tokens import LimitReached, TokenStore
from chalicelib.token_format import Kind

NAME_PATTERN = re.compile(r"[A-Za-z0-9-]{1,100}")


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
    def __init__(self, tokens: TokenStore | None = None, directory: DirectoryService | None = None,
                 settings=None, clock=utcnow, audit: AuditService | None = None):
        self.settings = settings or get_settings()
        self.tokens = tokens or TokenStore(self.settings)
        self.directory = directory or DirectoryService()
        self.clock = clock
        self.audit = audit or AuditService(clock=clock)

    # -- account tokens ----------------------------------------------------

    def create_account_token(self, principal: Principal, *, name=None, expires_at=None,
                             meta: RequestMeta | None = None) -> NewToken:
        user = self.directory.user(principal)
        return self.issue_account_token(user, name=name, expires_at=expires_at, principal=principal, meta=meta)

    def issue_account_token(self, user: User, *, name=None, expires_at=None,
                            principal: Principal | None = None, meta: RequestMeta | None = None) -> NewToken:
        """An account token for `user` (also the operators' bootstrap path:
        no `principal`, recorded as done by the operator)."""
        if user.disabled:
            raise BadRequest(f"user {user.email} is disabled")
        now = self.clock()
        # The user must still be enabled when the token is written: a token
        # created while the user is being disabled would escape the fan-out.
        owner_check = ((user_key(user.user_id), "user"), DirectoryItem.pk.exists() & (User.disabled != True))  # noqa: E712
        return self._create(
            Kind.ACCOUNT, user_owner(user.user_id), created_by=user.user_id,
            name=validate_name(name),
            expires_at=parse_expiry(expires_at, now, self.settings.max_token_lifetime_days),
            limit=self.settings.max_account_tokens, owner_check=owner_check, now=now,
            principal=principal, meta=meta if principal else (meta or OPERATOR),
        )

    def account_tokens(self, principal: Principal, *, limit: int, cursor: str | None) -> Page[Token]:
        user = self.directory.user(principal)
        return self.tokens.page(user_owner(user.user_id), limit=limit, cursor=cursor)

    def delete_account_token(self, principal: Principal, token_id: int, *, meta: RequestMeta | None = None) -> None:
        user_id = require_account(principal)
        self._delete(user_owner(user_id), token_id, principal=principal, meta=meta)

    # -- project tokens ----------------------------------------------------

    def create_project_token(self, principal: Principal, provider: str, org: str, repo: str,
                             *, name=None, expires_at=None, meta: RequestMeta | None = None) -> NewToken:
        access = self.directory.repository(principal, provider, org, repo, Action.MANAGE_TOKENS)
        now = self.clock()
        repository = access.repository
        owner_check = ((org_key(provider, org), repo_sort_key(repo)), DirectoryItem.pk.exists())
        return self._create(
            Kind.PROJECT, repository_owner(repository.full_name), created_by=principal.user_id,
            name=validate_name(name),
            expires_at=parse_expiry(expires_at, now, self.settings.max_token_lifetime_days),
            limit=self.settings.max_project_tokens, owner_check=owner_check, now=now,
            principal=principal, meta=meta,
        )

    def project_tokens(self, principal: Principal, provider: str, org: str, repo: str,
                       *, limit: int, cursor: str | None) -> Page[Token]:
        access = self.directory.repository(principal, provider, org, repo, Action.MANAGE_TOKENS)
        return self.tokens.page(repository_owner(access.repository.full_name), limit=limit, cursor=cursor)

    def delete_project_token(self, principal: Principal, provider: str, org: str, repo: str, token_id: int,
                             *, meta: RequestMeta | None = None) -> None:
        access = self.directory.repository(principal, provider, org, repo, Action.MANAGE_TOKENS)
        self._delete(repository_owner(access.repository.full_name), token_id, principal=principal, meta=meta)

    # -- what the console shows ------------------------------------------------

    def account_token(self, principal: Principal, token_id: int) -> Token:
        """One of the caller's own account tokens (NotFound for anyone else's)."""
        user = self.directory.user(principal)
        token = self.tokens.find_by_id(token_id)
        if token is None or token.owner != user_owner(user.user_id):
            raise NotFound()
        return token

    def project_token_listing(self, principal: Principal, provider: str, org: str, repo: str,
                              *, limit: int, cursor: str | None):
        """(access, page) of a repository's project tokens for anyone who may
        read the repository: names, hints and dates, never a value. Only
        `access.role` ADMIN may manage them."""
        access = self.directory.repository(principal, provider, org, repo, Action.READ)
        return access, self.tokens.page(repository_owner(access.repository.full_name), limit=limit, cursor=cursor)

    def project_token(self, principal: Principal, provider: str, org: str, repo: str, token_id: int):
        """(access, token): one project token of a repository the caller may read."""
        access = self.directory.repository(principal, provider, org, repo, Action.READ)
        token = self.tokens.find_by_id(token_id)
        if token is None or token.owner != repository_owner(access.repository.full_name):
            raise NotFound()
        return access, token

    # -- fan-out (operators) ----------------------------------------------

    def disable_tokens_of_user(self, user_id: int) -> int:
        tokens = self.tokens.all_of(user_owner(user_id))
        for token in tokens:
            if not token.disabled:
                self.tokens.disable(token)
                self.audit.record_token(audit_events.DISABLED, token, meta=OPERATOR, reason="owner disabled")
        return len(tokens)

    def delete_tokens_of_repository(self, full_name: str) -> int:
        tokens = self.tokens.all_of(repository_owner(full_name))
        for token in tokens:
            self.tokens.delete(token, audit_items=self._audit_items(
                audit_events.DELETED, token, principal=None, meta=OPERATOR, reason="repository deleted"))
        return len(tokens)

    # -- shared ------------------------------------------------------------

    def _audit_items(self, action, token, *, principal, meta, reason=None):
        return self.audit.token_items(action, token, principal=principal, meta=meta, reason=reason)

    def _create(self, kind, owner, *, created_by, name, expires_at, limit, owner_check, now,
                principal=None, meta=None, attributes=None, actor=None, reason=None) -> NewToken:
        value = token_format.generate(kind)
        token = Token(
            token_format.digest(value),
            kind=kind.value, owner=owner, token_id=0, name=name,
            hint=token_format.hint(value), created_at=now, created_by=created_by,
            expires_at=expires_at, disabled=False, **(attributes or {}),
        )
        # The creation is recorded in the token's own transaction (see
        # chalicelib.services.audit): the items are built once the id is drawn.
        stored = self.tokens.create(
            token, limit=limit, owner_check=owner_check,
            audit=lambda t: self.audit.token_items(audit_events.CREATED, t, principal=principal, meta=meta,
                                                   reason=reason, actor=actor),
        )
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
        provider, org, repo = repository.full_name.split("/", 2)
        # The repository must still be the one the publisher was registered
        # on when the token is written (deleted meanwhile: NotFound).
        owner_check = ((org_key(provider, org), repo_sort_key(repo)),
                       DirectoryItem.pk.exists() & (Repository.repository_id == repository.repository_id))
        owner = repository_owner(repository.full_name)

        def create():
            return self._create(
                Kind.PROJECT, owner, created_by=None, name=None,
                expires_at=now + timedelta(seconds=lifetime_seconds),
                limit=self.settings.max_project_tokens, owner_check=owner_check, now=now, meta=meta,
                attributes={"publisher_id": int(publisher.publisher_id), "publisher_issuer": publisher.issuer},
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
            raise NotFound()
