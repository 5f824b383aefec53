"""One vocabulary of failures, and the one place it maps to HTTP.

Domain code raises these; only `chalicelib.api.http` turns them into
responses, through `status_of`.
"""


class LatchkeyError(Exception):
    """Base of every failure the service answers on purpose."""

    default_message = "internal error"

    def __init__(self, message: str | None = None, *, field: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.field = field


class BadRequest(LatchkeyError):
    default_message = "bad request"


class Unauthenticated(LatchkeyError):
    default_message = "missing token: send it in the api-token or project-token header"


class TokenExpired(LatchkeyError):
    default_message = "token expired"


class Forbidden(LatchkeyError):
    default_message = "forbidden"


class NotFound(LatchkeyError):
    """Unknown, revoked, or invisible to the caller: never says which."""

    default_message = "not found"


class Conflict(LatchkeyError):
    default_message = "conflict"


class PayloadTooLarge(LatchkeyError):
    default_message = "payload too large"


class Unavailable(LatchkeyError):
    """A dependency (DynamoDB, S3) failed or throttled; safe to retry."""

    default_message = "service temporarily unavailable, retry later"
    retry_after_seconds = 1


class TooManyRequests(LatchkeyError):
    """A per-source limit was reached; retry after `retry_after_seconds`."""

    default_message = "too many requests, retry later"

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 60):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


_STATUS = {
    BadRequest: 400,
    Unauthenticated: 401,
    TokenExpired: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    TooManyRequests: 429,
    Unavailable: 503,
}


def status_of(error: LatchkeyError) -> int:
    """The HTTP status for a failure (500 for anything unlisted)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500
