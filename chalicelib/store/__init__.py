"""Every read and write of DynamoDB and S3 goes through this package.

Stores raise the domain errors of `chalicelib.errors`: a condition that
failed on purpose becomes `Conflict`/`NotFound`, a dependency that failed
(throttling, 5xx, timeouts, after botocore's bounded retries) `Unavailable`.
"""
import contextlib

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.errors import Unavailable


@contextlib.contextmanager
def dependency_errors():
    """Turn a failure of AWS into `Unavailable` (HTTP 503, retryable)."""
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        raise Unavailable() from error


def is_condition_failure(error: PynamoDBException) -> bool:
    """Whether a write failed its condition (on purpose), not on AWS.

    Not `error.cause_response_code`: it raises AttributeError when the cause
    is a botocore error without a response (a timeout), which would turn a
    retryable 503 into a 500.
    """
    response = getattr(error.cause, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


def cancellation_codes(error) -> list[str | None]:
    """The per-item reasons of a cancelled transaction, in item order."""
    return [reason.code if reason else None for reason in error.cancellation_reasons]
