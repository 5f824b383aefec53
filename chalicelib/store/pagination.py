"""Cursor pagination over DynamoDB queries.

A cursor is the key of the last item of a page, as URL-safe base64 JSON.
Pages are fetched one item long so that a cursor is only handed out when
another item really follows (no empty last page).
"""
import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import BadRequest
from chalicelib.store import error_code

T = TypeVar("T")

MAX_CURSOR_LENGTH = 2048
BAD_CURSOR = "cursor: not a cursor returned by this API"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None
    limit: int
    total: int | None  # None where no exact count exists (audit events expire silently)


def encode_cursor(key: dict[str, dict[str, str]]) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, dict[str, str]] | None:
    """The DynamoDB key a cursor stands for; BadRequest if it is not one."""
    if not cursor:
        return None
    error = BadRequest(BAD_CURSOR, field="cursor")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise error
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise error from None
    valid = isinstance(key, dict) and key and all(
        isinstance(name, str)
        and isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("S", "N")
        and isinstance(next(iter(value.values())), str)
        for name, value in key.items()
    )
    if not valid:
        raise error
    return key


def item_key(item: Any, names: list[str]) -> dict[str, dict[str, str]]:
    """The serialized attributes `names` of a PynamoDB item: a query key."""
    attributes = item.get_attributes()
    key = {}
    for name in names:
        attribute = attributes[name]
        key[attribute.attr_name] = {
            attribute.attr_type: attribute.serialize(getattr(item, name))
        }
    return key


def query_page(
    query: Callable[..., Any],
    *,
    limit: int,
    cursor: str | None,
    key_names: list[str],
    total: int | None,
) -> Page:
    """One page of `query(limit=..., last_evaluated_key=...)`.

    `key_names` are also the stored names of the key attributes: a cursor
    naming others, or one DynamoDB refuses as a start key (another owner's),
    was not handed out by this API and is bad input, not a failure of ours.
    """
    start = decode_cursor(cursor)
    error = BadRequest(BAD_CURSOR, field="cursor")
    if start is not None and set(start) != set(key_names):
        raise error
    try:
        items = list(query(limit=limit + 1, page_size=limit + 1, last_evaluated_key=start))
    except PynamoDBException as failure:
        if start is not None and error_code(failure) == "ValidationException":
            raise error from None
        raise
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor(item_key(items[-1], key_names))
    return Page(items=items, cursor=next_cursor, limit=limit, total=total)


def list_page(items: list[T], *, limit: int, cursor: str | None, key: Callable[[T], str]) -> Page[T]:
    """One page of an in-memory list sorted by `key` (for small, bounded lists)."""
    start = 0
    decoded = decode_cursor(cursor)
    if decoded is not None:
        after = decoded.get("after", {}).get("S")
        if after is None:
            raise BadRequest(BAD_CURSOR, field="cursor")
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    next_cursor = encode_cursor({"after": {"S": key(chunk[-1])}}) if more and chunk else None
    return Page(items=chunk, cursor=next_cursor, limit=limit, total=len(items))
