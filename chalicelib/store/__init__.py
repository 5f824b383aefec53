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
    return error.cause_response_code == "ConditionalCheckFailedException"


def cancellation_codes(error) -> list[str | None]:
    """The per-item reasons of a cancelled transaction, in item order."""
    return [reason.code if reason else None for reason in error.cancellation_reasons]
