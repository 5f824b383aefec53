"""Where a request came from, as the audit trail and the logs record it.

A plain value object so that services can take it without importing
Chalice: the API adapter builds it from the Chalice request, the authorizer
from its REQUEST event.

This is the one place where free text that a caller controls (the user
agent, the request line) enters a log line or a stored item: `of()` redacts
anything token-shaped, drops control characters and bounds the length, so
that a token pasted into `User-Agent` or a path is never written down.
"""
from dataclasses import dataclass

from chalicelib import token_format

MAX_USER_AGENT = 256
MAX_REQUEST = 512
MAX_SOURCE_IP = 64


def clean_text(value, limit: int) -> str | None:
    """Caller-supplied text made safe to log or store: tokens redacted,
    control characters replaced, at most `limit` characters; None if empty.

    Redaction runs before the cut, so a cut cannot leave a token's prefix
    that no longer matches the pattern.
    """
    if not isinstance(value, str) or not value:
        return None
    text = token_format.redact(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text[:limit] or None


@dataclass(frozen=True)
class RequestMeta:
    source_ip: str | None = None
    user_agent: str | None = None
    request: str | None = None  # "METHOD /path", redacted

    @classmethod
    def of(cls, source_ip, user_agent, method=None, path=None) -> "RequestMeta":
        """Normalised, redacted values (see the module docstring)."""
        request = f"{method} {path}" if isinstance(method, str) and isinstance(path, str) else None
        return cls(
            clean_text(source_ip, MAX_SOURCE_IP),
            clean_text(user_agent, MAX_USER_AGENT),
            clean_text(request, MAX_REQUEST),
        )

    @classmethod
    def from_event(cls, event: dict) -> "RequestMeta":
        """From an API Gateway (proxy or REQUEST authorizer) event."""
        event = event or {}
        identity = (event.get("requestContext") or {}).get("identity") or {}
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        return cls.of(identity.get("sourceIp"), identity.get("userAgent") or headers.get("user-agent"),
                      event.get("httpMethod"), event.get("path"))


OPERATOR = RequestMeta(source_ip=None, user_agent="latchkey-manage")
