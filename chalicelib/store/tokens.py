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
from chalicelib.models.directory import DirectoryItem
from chalicelib.models.tokens import Token, TokenCounter, TokenId, TokenName
from chalicelib.settings import get_settings
from chalicelib.store import cancellation_codes, dependency_errors, is_condition_failure
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


class TokenStore:
    def __init__(self, settings=None):
        self.settings = settings or get_settings()

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
                actions=[Token.last_used_at.set(now)],
                condition=Token.pk.exists()
                & (Token.last_used_at.does_not_exist() | (Token.last_used_at <= now - interval)),
            )
        except Exception:  # noqa: BLE001 - by contract: a lost "last used" is harmless
            return False
        return True

    # -- management ------------------------------------------------------

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
                for item in extra_items:
                    transaction.save(item)
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
        in one transaction. False if already gone."""
        with dependency_errors():
            try:
                with TransactWrite(connection=self._connection(), client_request_token=uuid.uuid4().hex) as transaction:
                    transaction.delete(token, condition=Token.pk.exists())
                    transaction.delete(TokenId(TokenId.key(token.token_id)))
                    if token.name:
                        transaction.delete(TokenName(TokenName.key(token.owner, token.name)))
                    transaction.update(
                        TokenCounter(TokenCounter.key(token.owner)),
                        actions=[TokenCounter.count.add(-1)],
                    )
                    for item in audit_items:
                        transaction.save(item)
            except TransactWriteError as error:
                if "ConditionalCheckFailed" in cancellation_codes(error):
                    return False
                raise
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

    def page(self, owner: str, *, limit: int, cursor: str | None) -> Page[Token]:
        """An owner's tokens, newest first, one Query per page."""
        with dependency_errors():
            return query_page(
                lambda **kwargs: Token.owner_index.query(owner, scan_index_forward=False, **kwargs),
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
        with dependency_errors():
            try:
                token.update(actions=[Token.disabled.set(True)], condition=Token.pk.exists())
            except UpdateError as error:
                if not is_condition_failure(error):
                    raise


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
