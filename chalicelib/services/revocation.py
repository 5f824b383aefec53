"""Ending tokens by value: the one path every "this token must die now" takes.

GitHub's secret-scanning reports, the public revoke-by-value endpoint and a
token revoking itself all call `RevocationService.revoke`, with a reason.
It accepts token values (or their SHA-256 digests), ignores anything that
is not a well-formed token (format and checksum: no storage call for
garbage), looks the rest up in one consistent BatchGetItem per 100, and
deletes every token found, each with a `token.revoked` audit event in the
same transaction, several at a time so a batch of 1,000 ends in bounded time.

It returns, per credential, whether a token existed and whether it was live
(not expired, owner not disabled): GitHub's feedback needs that; the public
endpoint must not show it to its caller.
"""
import logging
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chalicelib import token_format
from chalicelib.access import Principal
from chalicelib.clock import utcnow
from chalicelib.errors import NotFound
from chalicelib.models.tokens import Token
from chalicelib.request_meta import OPERATOR, RequestMeta
from chalicelib.services import audit as audit_events
from chalicelib.services.audit import AuditService
from chalicelib.store.tokens import TokenLifecycleStore, TokenStore

log = logging.getLogger("latchkey.revocation")

DIGEST = re.compile(r"[0-9a-f]{64}")
# Deletes in flight at once on Lambda (DynamoDB takes them in parallel). moto,
# in `make run` and the tests, is not safe under concurrent calls: one at a time.
MAX_PARALLEL_DELETES = 8


def default_parallelism() -> int:
    return MAX_PARALLEL_DELETES if "AWS_LAMBDA_FUNCTION_NAME" in os.environ else 1

# Why a token was revoked (the audit event's reason starts with one of these).
LEAKED = "leaked"
BY_VALUE = "revoked by value"
BY_ITSELF = "revoked by itself"
BY_OPERATOR = "revoked by an operator"


@dataclass(frozen=True)
class Revocation:
    """What happened to one credential of a `revoke` call."""

    credential: str  # as given (a token value or a digest)
    digest: str | None  # None: not a well-formed token, nothing was looked up
    token: Token | None  # the token deleted by this call, None if there was none
    live: bool  # it was usable until now (not expired, owner not disabled)


def digest_of(credential: str) -> str | None:
    """The storage digest of a well-formed token value, or a digest itself."""
    if not isinstance(credential, str):
        return None
    if token_format.parse(credential) is not None:
        return token_format.digest(credential)
    if DIGEST.fullmatch(credential):
        return credential
    return None


class RevocationService:
    def __init__(self, tokens: TokenStore, lifecycle: TokenLifecycleStore, audit: AuditService, clock=utcnow,
                 parallelism: int | None = None):
        self.tokens = tokens
        self.lifecycle = lifecycle
        self.audit = audit
        self.clock = clock
        self.parallelism = parallelism or default_parallelism()

    def revoke(self, credentials: Iterable[str], *, reason: str, actor: str | None,
               meta: RequestMeta | None = None, principal: Principal | None = None,
               leaked: bool = False, details: Mapping[str, str] | None = None) -> list[Revocation]:
        """Revoke every token among `credentials` (values or digests); one
        `Revocation` per distinct credential, in order.

        `reason` goes on each token's audit event (`LEAKED`/`BY_VALUE`/
        `BY_ITSELF`), followed by `details[credential]` if given (where a leak
        was found); `actor` names who asked ("github-secret-scanning",
        "anonymous"; None: `principal`, the caller's token). `leaked` says
        the token's value is known to others (GitHub's report): whatever else
        a leak must end (a rotation's grace period) hooks in here.
        """
        given = list(dict.fromkeys(c for c in credentials if isinstance(c, str)))
        digests = {credential: digest_of(credential) for credential in given}
        wanted = list(dict.fromkeys(d for d in digests.values() if d))
        found = self.tokens.find_many(wanted) if wanted else {}
        now = self.clock()
        live = {
            digest: not token.disabled and (token.expires_at is None or token.expires_at > now)
            for digest, token in found.items()
        }
        reasons = {}
        for credential, digest in digests.items():
            if digest and digest not in reasons:
                detail = (details or {}).get(credential)
                reasons[digest] = f"{reason}: {detail}" if detail else reason
        deleted = self._delete_all(list(found.values()), reasons=reasons, actor=actor, meta=meta,
                                   principal=principal)
        for token in deleted.values():
            self._end_grace_periods(token, reason=reasons[token.pk], actor=actor, meta=meta, principal=principal)
        if leaked and deleted:
            log.warning("leaked tokens revoked: count=%d reason=%s", len(deleted), reason)
        return [
            Revocation(credential, digest, deleted.get(digest) if digest else None,
                       bool(digest and digest in deleted and live[digest]))
            for credential, digest in digests.items()
        ]

    def revoke_by_id(self, token_id: int) -> Token:
        """An operator's revocation of any token by its id (`manage.py
        revoke-token`), the same path as a revocation by value: the token
        revoked. Raises NotFound when no token has that id."""
        token = self.tokens.find_by_id(token_id)
        revoked = self.revoke([token.pk], reason=BY_OPERATOR, actor=None, meta=OPERATOR) if token else []
        if not revoked or revoked[0].token is None:
            raise NotFound(f"no token with id {token_id}")
        return revoked[0].token

    def _end_grace_periods(self, token: Token, *, reason: str, actor, meta, principal) -> None:
        """Issue 16: a token ended by value takes its lineage's grace periods
        with it. Every rotated-away token of its family still working in its
        grace period is revoked too. A token never rotated (no family) costs
        nothing more."""
        if getattr(token, "family_id", None) is None and getattr(token, "rotated_at", None) is None:
            return
        now = self.clock()
        for member in self.lifecycle.family(token.owner, token.family):
            if member.pk == token.pk or member.rotated_at is None:
                continue
            if member.expires_at is not None and member.expires_at <= now:
                continue  # its grace period is over already
            items = self.audit.token_items(audit_events.REVOKED, member, principal=principal, meta=meta,
                                           reason=f"grace period ended: {reason}", actor=actor)
            self.tokens.delete(member, audit_items=items)

    def _delete_all(self, tokens: list[Token], *, reasons, actor, meta, principal) -> dict[str, Token]:
        def delete(token: Token) -> Token | None:
            items = self.audit.token_items(audit_events.REVOKED, token, principal=principal, meta=meta,
                                           reason=reasons[token.pk], actor=actor)
            return token if self.tokens.delete(token, audit_items=items) else None

        if len(tokens) <= 1 or self.parallelism <= 1:
            results = [delete(token) for token in tokens]
        else:
            with ThreadPoolExecutor(max_workers=min(self.parallelism, len(tokens))) as pool:
                results = list(pool.map(delete, tokens))
        return {token.pk: token for token in results if token is not None}
