"""The service's notion of now (injectable, so tests can move time), and
how a moment is written in answers, messages and stored summaries."""
from datetime import datetime, timezone
from typing import overload


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 to the second, UTC as `Z` (`2026-01-02T03:04:05Z`); None stays None."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None
