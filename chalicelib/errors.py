"""One vocabulary of failures, and the one place it maps to HTTP.

Domain code raises these; only `chalicelib.api.http` turns them into
responses, through `status_of`. Each class states its status and its
default message where it is defined (`class X(LatchkeyError, status=...,
message=...)`); a subclass that states neither keeps its parent's.
"""


class LatchkeyError(Exception):
    """Base of every failure the service answers on purpose (500 unless a subclass says)."""

    status = 500
    default_message = "internal error"

    def __init_subclass__(cls, status: int | None = None, message: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if message is not None:
            cls.default_message = message

    def __init__(self, message: str | None = None, *, field: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.field = field


class BadRequest(LatchkeyError, status=400, message="bad request"):
    """The request itself is wrong (a field, the body, the token headers)."""


class Unauthenticated(LatchkeyError, status=401,
                      message="missing token: send it in the api-token or project-token header"):
    """No token at all."""


class TokenExpired(LatchkeyError, status=401, message="token expired"):
    """Past its expiry: a new token is needed."""


class TokenDisabled(LatchkeyError, status=401, message="token disabled"):
    """Paused by its owner (PATCH {"disabled": true}); works again once resumed."""


class Forbidden(LatchkeyError, status=403, message="forbidden"):
    """Seen, but not allowed."""


class NotFound(LatchkeyError, status=404, message="not found"):
    """Unknown, revoked, or invisible to the caller: never says which."""


class Conflict(LatchkeyError, status=409, message="conflict"):
    """The state does not allow it (a duplicate, a limit, a race lost)."""


class PayloadTooLarge(LatchkeyError, status=413, message="payload too large"):
    """A body over its limit."""


class TooManyRequests(LatchkeyError, status=429, message="too many requests, retry later"):
    """A per-source limit was reached; retry after `retry_after_seconds`."""

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 60):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(LatchkeyError, status=503, message="service temporarily unavailable, retry later"):
    """A dependency (DynamoDB, S3) failed or throttled; safe to retry."""

    retry_after_seconds = 1


def status_of(error: LatchkeyError) -> int:
    """The HTTP status for a failure: its class's (500 for one that states none).

    The class's, not the instance's: an error that carries a `status` of
    its own for its route (`services.keyless.ExchangeRefused`) is answered
    by that route, and anywhere else is a 500 like any unlisted failure.
    """
    return type(error).status
