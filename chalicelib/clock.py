"""The service's notion of now (injectable, so tests can move time)."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
