"""The local AWS endpoint's DynamoDB, made to keep DynamoDB's guarantees
under concurrent requests.

moto applies a DynamoDB call in several Python steps with no lock, where
DynamoDB is atomic per item and per transaction: 140 concurrent token
creations from 10 threads against `make run` stored 106 tokens for a limit
of 100, and moto failed others with "dictionary changed size during
iteration". Serialising every call of its DynamoDB backend gives the same
conditional semantics as DynamoDB (one call at a time is a legal DynamoDB
history), so local race tests and local users see the real limits.

Used by `make run` (scripts/run_local.py) and by the tests' threaded moto
server (tests/conftest.py `moto_server`): one definition for both.
"""
import functools
import threading

# Every DynamoDB backend operation the service (or make run's state saver) calls.
OPERATIONS = (
    "put_item", "get_item", "query", "scan", "update_item", "delete_item",
    "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items",
)

_LOCK = threading.RLock()


def serialised(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    locked.latchkey_serialised = True  # type: ignore[attr-defined]
    return locked


def serialised_operations() -> dict:
    """name -> the DynamoDB backend's method wrapped in the one lock."""
    from moto.dynamodb.models import DynamoDBBackend

    wrapped = {}
    for name in OPERATIONS:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "latchkey_serialised", False):
            wrapped[name] = serialised(method)
    return wrapped


def serialise_dynamodb() -> None:
    """Serialise moto's DynamoDB in this process, for good (make run)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name, method in serialised_operations().items():
        setattr(DynamoDBBackend, name, method)
