"""Reads and writes of the tokens table.

The authorizer imports this module and nothing heavier: `find` is its one
read, `touch` its occasional write.
"""
import functools
import secrets
import uuid
from datetime import datetime, timedelta

from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound
from chalicelib.models.directory import DirectoryItem, Repository, User, org_key, repo_sort_key, user_key
from chalicelib.models.tokens import Token, TokenCounter, TokenId, TokenName, sweep_shard
from chalicelib.settings import Settings
from chalicelib.store import (
    cancellation_codes,
    dependency_errors,
    is_condition_failure,
    save_audit_items,
    write_if_unchanged,
)
from chalicelib.store.pagination import Page, query_page

# JavaScript clients read ids as doubles: stay below 2**53.
MAX_TOKEN_ID = 2**53 - 1
_ID_ATTEMPTS = 5


class LimitReached(Conflict):
    pass


@functools.lru_cache(maxsize=1)
def _touch_connection() -> TableConnection:
    """A connection for "last used" writes: one attempt, short timeouts.

    The write is best effort; retrying or waiting on it would slow the
    request it rides on.
    """
    table = Token._get_connection()
    return TableConnection(
        Token.Meta.table_name,
        region=Token.Meta.region,
        connect_timeout_seconds=0.25,
        read_timeout_seconds=0.25,
        max_retry_attempts=0,
        meta_table=table.connection.get_meta_table(Token.Meta.table_name),
    )


def new_token_id() -> int:
    return secrets.randbelow(MAX_TOKEN_ID) + 1


def _sweepable(token: Token) -> None:
    """Put a new token in the sweeper's indexes (its shard, its activity)."""
    token.sweep_shard = sweep_shard(token.token_id)
    if token.active_at is None:
        token.active_at = token.created_at


# What must still hold of a new token's owner when the token is written: a
# (directory item key, condition) pair, checked in the token's transaction.

def _enabled_user(user_id: int):
    """The user exists and is enabled: a token created while the user is
    being disabled would escape the fan-out."""
    return (user_key(user_id), "user"), DirectoryItem.pk.exists() & (User.disabled != True)  # noqa: E712


def _same_repository(repository):
    """The very repository exists: not one deleted meanwhile, nor a new one
    created under its name."""
    return (_repository_key(repository),
            DirectoryItem.pk.exists() & (Repository.repository_id == repository.repository_id))


def _named_repository(repository):
    """A repository of that name exists."""
    return _repository_key(repository), DirectoryItem.pk.exists()


def _repository_key(repository) -> tuple[str, str]:
    return org_key(repository.provider, repository.owner), repo_sort_key(repository.name)


class TokenStore:
    def __init__(self, settings: Settings):
        self.settings = settings

    def _connection(self) -> Connection:
        return Token._get_connection().connection

    # -- the authorizer's hot path -------------------------------------

    def find(self, digest: str) -> Token | None:
        """The token stored under `digest`, or None.

        A strongly consistent read: a token revoked a millisecond ago is
        gone for this read, which is what makes revocation hold on the very
        next request.
        """
        with dependency_errors():
            try:
                return Token.get(digest, consistent_read=True)
            except Token.DoesNotExist:
                return None

    def touch(self, token: Token, now: datetime) -> bool:
        """Record a use, at most once per interval (a conditional update).

        Returns whether this call wrote. Never raises: a failure to record a
        use must not fail the request it belongs to.
        """
        interval = timedelta(seconds=self.settings.last_used_interval_seconds)
        try:
            _touch_connection().update_item(
                token.pk,
                actions=[Token.last_used_at.set(now), Token.active_at.set(now)],
                condition=Token.pk.exists()
                & (Token.last_used_at.does_not_exist() | (Token.last_used_at <= now - interval)),
            )
        except Exception:  # noqa: BLE001 - by contract: a lost "last used" is harmless
            return False
        return True

    def use(self, token: Token, now: datetime, *, touch: bool) -> bool:
        """Count one use of a use-limited token (`max_uses`), recording the
        use (`touch`) in the same write: the authorizer's one allowed second
        call. Whether the use was granted: the conditional update never lets
        `uses` pass `max_uses`, however many requests race.

        A failing table refuses the use (Unavailable): a limit that could be
        skipped by a throttled write would be no limit.
        """
        actions: list = [Token.uses.add(1)]
        if touch:
            actions += [Token.last_used_at.set(now), Token.active_at.set(now)]
        with dependency_errors():
            try:
                # The standard connection (retries, normal timeouts), not the
                # best-effort one of `touch`: a retried ADD can only count a
                # use twice, never admit one more than max_uses.
                Token._get_connection().update_item(
                    token.pk,
                    actions=actions,
                    condition=Token.pk.exists()
                    & (Token.uses.does_not_exist() | (Token.uses < int(token.max_uses))),
                )
            except UpdateError as error:
                if is_condition_failure(error):
                    return False
                raise
        return True

    # -- management ------------------------------------------------------

    def create_for_user(self, token: Token, user_id: int, *, limit: int, audit=None) -> Token:
        """Store a new account token of `user_id`, at most `limit` per user,
        while the user is enabled (see `create`)."""
        return self.create(token, limit=limit, owner_check=_enabled_user(user_id), audit=audit)

    def create_for_repository(self, token: Token, repository: Repository, *, limit: int, audit=None) -> Token:
        """Store a new project token of `repository`, at most `limit` per
        repository, while this very repository exists (see `create`)."""
        return self.create(token, limit=limit, owner_check=_same_repository(repository), audit=audit)

    def create(self, token: Token, *, limit: int, owner_check=None, audit=None) -> Token:
        """Store a new token with its id, name and count in one transaction.

        `token.token_id` is assigned here. `owner_check`, a (DirectoryItem
        key, condition) pair, makes the write depend on the owner still
        being valid (user not disabled, repository not deleted).

        `audit(token)`, given the token with its id, returns items written in
        the same transaction (the audit trail's record of the creation).

        Raises LimitReached, Conflict (name taken), NotFound (owner gone).
        """
        for _ in range(_ID_ATTEMPTS):
            token.token_id = new_token_id()
            _sweepable(token)
            try:
                with dependency_errors():
                    self._create_once(token, limit, owner_check, audit(token) if audit else [])
                return token
            except _IdTaken:
                continue
        raise Conflict("could not allocate a token id, retry")

    def _create_once(self, token, limit, owner_check, extra_items):
        counter = TokenCounter(TokenCounter.key(token.owner))
        try:
            # The request token makes botocore's retry of this very call
            # idempotent on DynamoDB (a retry after a lost answer succeeds
            # without writing twice).
            with TransactWrite(connection=self._connection(), client_request_token=uuid.uuid4().hex) as transaction:
                transaction.update(
                    counter,
                    actions=[TokenCounter.count.add(1)],
                    condition=TokenCounter.count.does_not_exist() | (TokenCounter.count < limit),
                )
                transaction.save(
                    TokenId(TokenId.key(token.token_id), digest=token.pk),
                    condition=TokenId.pk.does_not_exist(),
                )
                transaction.save(token, condition=Token.pk.does_not_exist())
                if token.name:
                    transaction.save(
                        TokenName(TokenName.key(token.owner, token.name)),
                        condition=TokenName.pk.does_not_exist(),
                    )
                if owner_check:
                    (hash_key, range_key), condition = owner_check
                    transaction.condition_check(DirectoryItem, hash_key, range_key, condition=condition)
                save_audit_items(transaction, extra_items)
        except TransactWriteError as error:
            # PynamoDB sends condition checks, then deletes, puts and updates,
            # whatever order they were added in; reasons follow that order.
            codes = cancellation_codes(error)
            labels = _create_labels(token, owner_check, extra_items)
            if len(codes) != len(labels):  # not a cancellation: throttling, 5xx...
                raise
            failed = {label for label, code in zip(labels, codes, strict=True) if code == "ConditionalCheckFailed"}
            if not failed:
                raise
            if "token" in failed and self._already_written(token):
                # A retry of a transaction that had committed but whose
                # answer was lost: 160 random bits do not collide, so the
                # digest being there means this very write succeeded.
                return
            if "owner" in failed:
                raise NotFound() from None
            if "limit" in failed:
                raise LimitReached(f"token limit reached: at most {limit} tokens") from None
            if "name" in failed:
                raise Conflict(f"name: a token named {token.name!r} already exists", field="name") from None
            if "id" in failed:
                raise _IdTaken() from None
            raise Conflict("token collision, retry") from None

    def _already_written(self, token: Token) -> bool:
        stored = self.find(token.pk)
        return stored is not None and stored.owner == token.owner and int(stored.token_id) == int(token.token_id)

    def find_by_id(self, token_id: int) -> Token | None:
        with dependency_errors():
            try:
                pointer = TokenId.get(TokenId.key(token_id), consistent_read=True)
            except TokenId.DoesNotExist:
                return None
        return self.find(pointer.digest)

    def delete(self, token: Token, *, audit_items=()) -> bool:
        """Delete a token and its id, name and count (and write `audit_items`),
        in one transaction. False if already gone (or retired meanwhile)."""
        retired = bool(token.retired)
        # A retired token left the counter already: the delete depends on
        # the state it was read in, so the counter is decremented once.
        state = (Token.retired == True) if retired else (  # noqa: E712
            Token.retired.does_not_exist() | (Token.retired == False))  # noqa: E712

        def add(transaction):
            transaction.delete(token, condition=Token.pk.exists() & state)
            transaction.delete(TokenId(TokenId.key(token.token_id)))
            # A rotated-away token left its name and its place in the count
            # to its successor.
            if token.name and token.rotated_at is None:
                transaction.delete(TokenName(TokenName.key(token.owner, token.name)))
            if not retired and token.rotated_at is None:
                transaction.update(TokenCounter(TokenCounter.key(token.owner)), actions=[TokenCounter.count.add(-1)])
            save_audit_items(transaction, audit_items)

        return write_if_unchanged(self._connection(), add)

    def retire(self, token: Token, now: datetime, removal_at: datetime, *, audit_items=()) -> bool:
        """Take an expired token out of its owner's count and schedule its
        removal by DynamoDB TTL (token, id and name items), with its audit
        event, in one transaction. False if it is gone, retired already or
        not expired."""
        condition = (Token.pk.exists() & (Token.retired.does_not_exist() | (Token.retired == False))  # noqa: E712
                     & (Token.expires_at <= now))

        def add(transaction):
            transaction.update(token, actions=[Token.retired.set(True), Token.removal_at.set(removal_at)],
                               condition=condition)
            transaction.update(TokenId(TokenId.key(token.token_id)),
                               actions=[TokenId.removal_at.set(removal_at)], condition=TokenId.pk.exists())
            if token.name:
                transaction.update(TokenName(TokenName.key(token.owner, token.name)),
                                   actions=[TokenName.removal_at.set(removal_at)], condition=TokenName.pk.exists())
            transaction.update(TokenCounter(TokenCounter.key(token.owner)), actions=[TokenCounter.count.add(-1)])
            save_audit_items(transaction, audit_items)

        if not write_if_unchanged(self._connection(), add):
            return False
        token.retired, token.removal_at = True, removal_at
        return True
    def find_many(self, digests: list[str]) -> dict[str, Token]:
        """The stored tokens among `digests`: one consistent BatchGetItem per 100."""
        found: dict[str, Token] = {}
        with dependency_errors():
            for start in range(0, len(digests), 100):
                for token in Token.batch_get(digests[start:start + 100], consistent_read=True):
                    found[token.pk] = token
        return found

    def count(self, owner: str) -> int:
        with dependency_errors():
            try:
                return int(TokenCounter.get(TokenCounter.key(owner), consistent_read=True).count)
            except TokenCounter.DoesNotExist:
                return 0

    def page(self, owner: str, *, limit: int, cursor: str | None, now: datetime | None = None) -> Page[Token]:
        """An owner's tokens, newest first, one Query per page. With `now`,
        rotated-away tokens whose grace period has ended are left out (they
        stay stored for reuse detection)."""
        extra = {}
        if now is not None:
            extra["filter_condition"] = Token.rotated_at.does_not_exist() | (Token.expires_at > now)
        with dependency_errors():
            return query_page(
                lambda **kwargs: Token.owner_index.query(owner, scan_index_forward=False, **extra, **kwargs),
                limit=limit,
                cursor=cursor,
                key_names=["pk", "owner", "created_at"],
                total=self.count(owner),
            )

    def all_of(self, owner: str) -> list[Token]:
        """Every token of an owner (for fan-out; an owner has at most a few hundred)."""
        with dependency_errors():
            return list(Token.owner_index.query(owner))

    def disable(self, token: Token) -> None:
        self._set_disabled(token, True)

    def enable(self, token: Token) -> None:
        """Undo `disable` (an operator re-enabling a user and their tokens)."""
        self._set_disabled(token, False)

    def _set_disabled(self, token: Token, value: bool) -> None:
        with dependency_errors():
            try:
                token.update(actions=[Token.disabled.set(value)], condition=Token.pk.exists())
            except UpdateError as error:
                if not is_condition_failure(error):
                    raise


class TokenLifecycleStore:
    """The lifecycle's writes (issue 16): rotation, pause, the sweeper's
    marks and queries. Kept beside TokenStore so that its module stays the
    authorizer's small import."""

    def __init__(self, tokens: TokenStore):
        self.tokens = tokens

    def rotate_for_user(self, old: Token, successor: Token, user_id: int, **rotation) -> Token:
        """`rotate` an account token while its user is enabled."""
        return self.rotate(old, successor, owner_check=_enabled_user(user_id), **rotation)

    def rotate_for_repository(self, old: Token, successor: Token, repository: Repository, **rotation) -> Token:
        """`rotate` a project token while a repository of its name exists."""
        return self.rotate(old, successor, owner_check=_named_repository(repository), **rotation)

    def rotate(self, old: Token, successor: Token, *, grace_ends: datetime, now: datetime,
               owner_check=None, audit_items=(), end_grace=()) -> Token:
        """Retire `old` (working until `grace_ends`) and store `successor`
        in one transaction: the successor takes over the old token's name
        and its place in the count. Of concurrent rotations of one token
        exactly one succeeds; the others raise Conflict.

        `end_grace`: older tokens of the family still in a grace period,
        which ends now (only the direct predecessor keeps one).

        Raises Conflict (already rotated, or changed meanwhile), NotFound
        (old token or owner gone).
        """
        for _ in range(_ID_ATTEMPTS):
            successor.token_id = new_token_id()
            _sweepable(successor)
            items = audit_items(successor) if callable(audit_items) else list(audit_items)
            try:
                with dependency_errors():
                    self._rotate_once(old, successor, grace_ends, now, owner_check, items, list(end_grace))
                return successor
            except _IdTaken:
                continue
        raise Conflict("could not allocate a token id, retry")

    def _rotate_once(self, old, successor, grace_ends, now, owner_check, items, end_grace):
        try:
            with TransactWrite(connection=self.tokens._connection(),
                               client_request_token=uuid.uuid4().hex) as transaction:
                if owner_check:
                    (hash_key, range_key), condition = owner_check
                    transaction.condition_check(DirectoryItem, hash_key, range_key, condition=condition)
                transaction.save(
                    TokenId(TokenId.key(successor.token_id), digest=successor.pk),
                    condition=TokenId.pk.does_not_exist(),
                )
                transaction.save(successor, condition=Token.pk.does_not_exist())
                save_audit_items(transaction, items)
                transaction.update(
                    old,
                    actions=[
                        Token.rotated_at.set(now),
                        Token.successor_id.set(int(successor.token_id)),
                        Token.family_id.set(old.family),
                        Token.expires_at.set(grace_ends),
                    ],
                    condition=Token.pk.exists() & Token.rotated_at.does_not_exist()
                    & (Token.owner == old.owner),
                )
                for older in end_grace:
                    transaction.update(older, actions=[Token.expires_at.set(now)], condition=Token.pk.exists())
        except TransactWriteError as error:
            codes = cancellation_codes(error)
            labels = ((["owner"] if owner_check else []) + ["id", "token"] + ["audit"] * len(items) + ["old"]
                      + ["grace"] * len(end_grace))
            if len(codes) != len(labels):
                raise
            failed = {label for label, code in zip(labels, codes, strict=True) if code == "ConditionalCheckFailed"}
            if not failed:
                raise
            if "owner" in failed:
                raise NotFound() from None
            if "id" in failed:
                raise _IdTaken() from None
            if "grace" in failed and "old" not in failed:
                raise Conflict("the token's family changed meanwhile, retry") from None
            if "old" in failed:
                current = self.tokens.find(old.pk)
                if current is None:
                    raise NotFound() from None
                raise Conflict("this token was already rotated; rotate its successor "
                               f"(id {int(current.successor_id or 0)})") from None
            raise Conflict("token collision, retry") from None

    def family(self, owner: str, family_id: int) -> list[Token]:
        """Every token of one lineage (one Query of the owner's tokens)."""
        return [token for token in self.tokens.all_of(owner) if token.family == int(family_id)]

    def set_paused(self, token: Token, paused: bool) -> Token | None:
        """Pause or resume; the token as stored after, or None if gone."""
        with dependency_errors():
            try:
                action = Token.paused.set(True) if paused else Token.paused.remove()
                token.update(actions=[action], condition=Token.pk.exists())
            except UpdateError as error:
                if is_condition_failure(error):
                    return None
                raise
        return token

    def mark_expiry_notified(self, token: Token, now: datetime, audit_items=()) -> bool:
        """Mark the expiry notice as sent, with its audit event, in one
        transaction: False if another sweep did it first (or the token is gone)."""

        def add(transaction):
            transaction.update(token, actions=[Token.expiry_notified_at.set(now)],
                               condition=Token.pk.exists() & Token.expiry_notified_at.does_not_exist())
            save_audit_items(transaction, audit_items)

        return write_if_unchanged(self.tokens._connection(), add)

    def expiring(self, shard: str, start: datetime, end: datetime):
        """Tokens of one shard expiring in [start, end) (one Query per page)."""
        with dependency_errors():
            yield from Token.expiry_index.query(shard, Token.expires_at.between(start, end))

    def inactive_since(self, shard: str, cutoff: datetime):
        """Tokens of one shard neither used nor created since `cutoff`."""
        with dependency_errors():
            yield from Token.activity_index.query(shard, Token.active_at < cutoff)


def _create_labels(token, owner_check, extra_items) -> list[str]:
    """What each item of the create transaction is, in the order DynamoDB
    reports cancellation reasons: PynamoDB sends condition checks, then
    deletes, then puts (in call order), then updates, whatever order they
    were added in."""
    labels = ["owner"] if owner_check else []
    labels += ["id", "token"]
    if token.name:
        labels.append("name")
    labels += ["audit"] * len(extra_items)
    labels.append("limit")
    return labels


class _IdTaken(Exception):
    """Two tokens drew the same random id: draw again."""
