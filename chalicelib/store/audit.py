"""Reads and writes of the audit table."""
import secrets
from datetime import datetime, timedelta

from pynamodb.connection import Connection

from chalicelib.errors import BadRequest
from chalicelib.models.audit import AuditEvent
from chalicelib.settings import get_settings
from chalicelib.store import dependency_errors
from chalicelib.store.pagination import BAD_CURSOR, Page, decode_cursor, query_page

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def sort_key(at: datetime, event_id: str) -> str:
    """Fixed-width UTC time then the event id: lexical order is time order."""
    return f"{at.strftime(TIME_FORMAT)}#{event_id}"


def new_event_id() -> str:
    return secrets.token_hex(8)


class AuditStore:
    def __init__(self, settings=None):
        self.settings = settings or get_settings()

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

    def put(self, items: list[AuditEvent]) -> None:
        """Write the items of one event: one PutItem, or one BatchWriteItem."""
        with dependency_errors():
            if len(items) == 1:
                items[0].save()
                return
            with AuditEvent.batch_write() as batch:
                for item in items:
                    batch.save(item)

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
