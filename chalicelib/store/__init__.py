"""Every read and write of DynamoDB and S3 goes through this package.

Stores raise the domain errors of `chalicelib.errors`: a condition that
failed on purpose becomes `Conflict`/`NotFound`, a dependency that failed
(throttling, 5xx, timeouts, after botocore's bounded retries) `Unavailable`.
"""
import contextlib
import uuid
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Unavailable

# Answers that no retry can change: the request itself is wrong (an item
# over 400 KB, a malformed key). Saying "retry later" would make clients
# retry forever; they surface as a 500 with a request id instead.
_NOT_RETRYABLE = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})


def error_code(error: Exception) -> str | None:
    """AWS's error code behind `error` (PynamoDB or botocore), or None (a timeout)."""
    cause = getattr(error, "cause", None) or error
    response = getattr(cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


@contextlib.contextmanager
def dependency_errors():
    """Turn a failure of AWS into `Unavailable` (HTTP 503, retryable)."""
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        if error_code(error) in _NOT_RETRYABLE:
            raise
        raise Unavailable() from error


def is_condition_failure(error: PynamoDBException) -> bool:
    """Whether a write failed its condition (on purpose), not on AWS.

    Not `error.cause_response_code`: it raises AttributeError when the cause
    is a botocore error without a response (a timeout), which would turn a
    retryable 503 into a 500.
    """
    return error_code(error) == "ConditionalCheckFailedException"


def cancellation_codes(error) -> list[str | None]:
    """The per-item reasons of a cancelled transaction, in item order."""
    return [reason.code if reason else None for reason in error.cancellation_reasons]


def save_audit_items(transaction, items) -> None:
    """Add audit items to a write transaction, each only if absent: through
    the API the trail is append-only (no role may overwrite an event)."""
    for item in items:
        transaction.save(item, condition=type(item).pk.does_not_exist())


def write_if_unchanged(connection, add: Callable[[TransactWrite], None]) -> bool:
    """One write transaction, its items put in by `add(transaction)`: False,
    and nothing written, when one of its conditions failed (what it depends
    on changed meanwhile). Its request token makes botocore's retry of the
    very call idempotent on DynamoDB."""
    with dependency_errors():
        try:
            with TransactWrite(connection=connection, client_request_token=uuid.uuid4().hex) as transaction:
                add(transaction)
        except TransactWriteError as error:
            if "ConditionalCheckFailed" in cancellation_codes(error):
                return False
            raise
    return True
