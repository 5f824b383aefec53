"""Reads and writes of the audit table."""
import secrets
from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import BadRequest
from chalicelib.models.audit import AuditEvent, RefusalMark
from chalicelib.settings import Settings
from chalicelib.store import cancellation_codes, dependency_errors, is_condition_failure, save_audit_items
from chalicelib.store.pagination import BAD_CURSOR, Page, decode_cursor, query_page

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Audit items are only ever added: every write carries this condition.
NEW_ITEM = AuditEvent.pk.does_not_exist()


def sort_key(at: datetime, event_id: str) -> str:
    """Fixed-width UTC time then the event id: lexical order is time order."""
    return f"{at.strftime(TIME_FORMAT)}#{event_id}"


def new_event_id() -> str:
    return secrets.token_hex(8)


class AuditStore:
    def __init__(self, settings: Settings):
        self.settings = settings

    def connection(self) -> Connection:
        return AuditEvent._get_connection().connection

    def items(self, streams: list[str], at: datetime, **fields) -> list[AuditEvent]:
        """One item per stream for one event (same id, same time, same TTL)."""
        event_id = new_event_id()
        expires = at + timedelta(days=self.settings.audit_retention_days)
        return [
            AuditEvent(stream, sort_key(at, event_id), event_id=event_id, at=at, expires=expires, **fields)
            for stream in dict.fromkeys(streams)
        ]

    @staticmethod
    def mark(key: str, interval: int, until: datetime) -> RefusalMark:
        """The marker of interval number `interval` for refusals `key`."""
        return RefusalMark(f"refused#{key}", str(interval), expires=until)

    def put(self, items: list, mark: RefusalMark | None = None) -> bool:
        """Write the items of one event (and its `mark`), each only if it does
        not exist yet: one PutItem, or one transaction. False if the event
        (or the mark) was there already, and then nothing is written."""
        items = ([mark] if mark is not None else []) + list(items)
        with dependency_errors():
            try:
                if len(items) == 1:
                    items[0].save(condition=NEW_ITEM)
                    return True
                with TransactWrite(connection=self.connection()) as transaction:
                    save_audit_items(transaction, items)
            except (PutError, TransactWriteError) as error:
                if isinstance(error, TransactWriteError):
                    if "ConditionalCheckFailed" in cancellation_codes(error):
                        return False
                elif is_condition_failure(error):
                    return False
                raise
        return True

    def exists(self, item: AuditEvent) -> bool:
        """Whether `item` (by its key) is on the trail: one consistent GetItem."""
        with dependency_errors():
            try:
                AuditEvent.get(item.pk, item.sk, consistent_read=True, attributes_to_get=["pk"])
            except AuditEvent.DoesNotExist:
                return False
        return True

    def page(self, stream: str, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        """A stream's events, newest first, one Query per page.

        The number of events is not tracked (TTL removes them silently), so
        the page carries no total.
        """
        key = decode_cursor(cursor)
        if key is not None and (
            set(key) != {"pk", "sk"} or key["pk"] != {"S": stream} or "S" not in key["sk"]
        ):
            # A cursor of another stream (or forged): never let it reach
            # DynamoDB, where it would fail as a 5xx-looking error.
            raise BadRequest(BAD_CURSOR, field="cursor")
        with dependency_errors():
            return query_page(
                lambda **kwargs: AuditEvent.query(stream, scan_index_forward=False, consistent_read=True, **kwargs),
                limit=limit,
                cursor=cursor,
                key_names=["pk", "sk"],
                total=None,
            )
