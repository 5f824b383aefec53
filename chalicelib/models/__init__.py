"""PynamoDB models, one module per table.

Table names, region and the botocore retry policy come from settings; they
are fixed when a model module is imported (PynamoDB reads `Meta` then).
"""
from typing import Any

from pynamodb.indexes import AllProjection

from chalicelib.settings import get_settings


def table_meta(table_name: str) -> Any:
    """A PynamoDB `Meta` for `table_name` with the service's client policy.

    Retries use botocore's "standard" mode (exponential backoff with jitter,
    retrying throttling, 5xx and connection errors), bounded in attempts and
    in time so that a failing dependency becomes a prompt 503, not a Lambda
    timeout.
    """
    settings = get_settings()
    return type(
        "Meta",
        (),
        {
            "table_name": table_name,
            "region": settings.region,
            "billing_mode": "PAY_PER_REQUEST",
            "connect_timeout_seconds": settings.aws_connect_timeout_seconds,
            "read_timeout_seconds": settings.aws_read_timeout_seconds,
            # PynamoDB turns this into botocore's "standard" retry mode
            # with 1 + max_retry_attempts attempts in all.
            "max_retry_attempts": settings.aws_max_attempts - 1,
        },
    )


def index_meta(index_name: str) -> Any:
    """A PynamoDB `Meta` for global secondary index `index_name`, projecting
    every attribute (each query of ours reads whole items)."""
    return type("Meta", (), {"index_name": index_name, "projection": AllProjection()})
