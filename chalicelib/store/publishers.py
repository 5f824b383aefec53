"""Reads and writes of trusted publishers (directory table) and of the
short-lived claims of keyless CI and rate limits (audit table, TTL)."""
import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import NotFound
from chalicelib.models.audit import Claim
from chalicelib.models.directory import (
    DirectoryItem,
    Repository,
    TrustedPublisher,
    org_key,
    publisher_sort_key,
    repository_item_key,
    trust_target,
)
from chalicelib.repository_ref import RepositoryRef
from chalicelib.store import (
    cancellation_codes,
    dependency_errors,
    is_condition_failure,
    save_audit_items,
    write_if_unchanged,
)

MAX_ID = 2**53 - 1


def new_publisher_id() -> int:
    return secrets.randbelow(MAX_ID) + 1


class PublisherStore:
    def of_repository(self, repository: RepositoryRef) -> list[TrustedPublisher]:
        """A repository's publishers (one consistent Query; a repository has few)."""
        with dependency_errors():
            return list(TrustedPublisher.query(
                org_key(repository.provider, repository.org),
                TrustedPublisher.sk.startswith(publisher_sort_key(repository.name)),
                consistent_read=True,
            ))

    def trusting(self, issuer: str, subject: str) -> list[TrustedPublisher]:
        """Every publisher trusting `subject` of `issuer`, in any repository
        (one Query of target-index; eventually consistent: `confirm` after)."""
        with dependency_errors():
            return [item for item in DirectoryItem.by_target.query(trust_target(issuer, subject))
                    if isinstance(item, TrustedPublisher)]

    def confirm(self, publisher: TrustedPublisher) -> tuple[TrustedPublisher | None, Repository | None]:
        """The publisher and its repository as they are now: one consistent BatchGetItem."""
        keys = [(publisher.pk, publisher.sk), repository_item_key(publisher.repository_ref)]
        with dependency_errors():
            items: dict[tuple[str, str], Any] = {
                (item.pk, item.sk): item for item in DirectoryItem.batch_get(keys, consistent_read=True)
            }
        found = items.get((publisher.pk, publisher.sk))
        repository = items.get(keys[1])
        return (found if isinstance(found, TrustedPublisher) else None,
                repository if isinstance(repository, Repository) else None)

    def create(self, publisher: TrustedPublisher, *, audit=None) -> TrustedPublisher:
        """Store a new publisher (its repository must still exist), with the
        items `audit(publisher)` gives once its id is drawn, in one transaction."""
        repository = publisher.repository_ref
        for _ in range(5):
            publisher.publisher_id = new_publisher_id()
            publisher.sk = publisher_sort_key(repository.name, publisher.publisher_id)
            with dependency_errors():
                try:
                    with TransactWrite(connection=DirectoryItem._get_connection().connection,
                                       client_request_token=uuid.uuid4().hex) as transaction:
                        transaction.condition_check(
                            DirectoryItem, *repository_item_key(repository),
                            condition=DirectoryItem.pk.exists() & (Repository.repository_id == repository.id),
                        )
                        transaction.save(publisher, condition=DirectoryItem.pk.does_not_exist())
                        save_audit_items(transaction, audit(publisher) if audit else ())
                    return publisher
                except TransactWriteError as error:
                    # Condition checks come first in DynamoDB's reasons, then puts.
                    codes = cancellation_codes(error)
                    if codes and codes[0] == "ConditionalCheckFailed":
                        raise NotFound() from None
                    if not (len(codes) > 1 and codes[1] == "ConditionalCheckFailed"):
                        raise
            # the id was drawn twice: draw again
        raise NotFound()

    def delete(self, publisher: TrustedPublisher, *, audit_items=()) -> bool:
        """Delete a publisher (and write `audit_items`); False if already gone."""
        def add(transaction):
            transaction.delete(publisher, condition=DirectoryItem.pk.exists())
            save_audit_items(transaction, audit_items)

        return write_if_unchanged(DirectoryItem._get_connection().connection, add)

    def delete_all_of(self, repository: RepositoryRef) -> int:
        """Delete every publisher of a repository (it is being deleted)."""
        publishers = self.of_repository(repository)
        with dependency_errors():
            for publisher in publishers:
                publisher.delete()
        return len(publishers)


class ClaimStore:
    """Write-once claims and per-minute counters, expiring through TTL."""

    @staticmethod
    def jti_key(issuer: str, jti: str) -> str:
        return f"jti#{issuer}#{hashlib.sha256(jti.encode()).hexdigest()}"

    def claim_once(self, key: str, expires: datetime) -> bool:
        """Write `key` if no one has: True the first time, False ever after
        (until it expires)."""
        with dependency_errors():
            try:
                Claim(key, "claim", expires=expires).save(condition=Claim.pk.does_not_exist())
            except PutError as error:
                if is_condition_failure(error):
                    return False
                raise
        return True

    def hit(self, key: str, window: str, *, limit: int, expires: datetime) -> bool:
        """Count one request in `window`; False (and not counted) past `limit`."""
        with dependency_errors():
            try:
                Claim(key, window).update(
                    actions=[Claim.hits.add(1), Claim.expires.set(expires)],
                    condition=Claim.hits.does_not_exist() | (Claim.hits < limit),
                )
            except UpdateError as error:
                if is_condition_failure(error):
                    return False
                raise
        return True
