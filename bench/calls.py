"""Exact storage-call counts, through botocore's own event hooks.

Every DynamoDB or S3 call, whichever library makes it (PynamoDB, boto3,
plain botocore), passes botocore's `before-call.<service>.<Operation>` event
once per logical call (retries are not separate calls). `count_calls()`
listens on every botocore client alive when it starts: run the request once
beforehand so that lazily created clients exist (the bench and the tests
do).
"""
import contextlib
import gc
import itertools
from collections import Counter
from dataclasses import dataclass, field

from botocore.client import BaseClient

_ids = itertools.count()
_TARGET = "latchkey_bench_target"


@dataclass(frozen=True)
class Call:
    service: str  # "dynamodb", "s3"
    operation: str  # "GetItem", "PutObject", ...
    target: str  # table(s) or bucket

    def __str__(self):
        return f"{self.service}.{self.operation}({self.target})"


@dataclass
class Calls:
    calls: list[Call] = field(default_factory=list)

    def __len__(self):
        return len(self.calls)

    def __iter__(self):
        return iter(self.calls)

    def summary(self) -> Counter:
        """{"dynamodb.GetItem(tokens-table)": 1, ...}"""
        return Counter(str(call) for call in self.calls)

    def operations(self) -> Counter:
        """{"GetItem": 1, ...}"""
        return Counter(call.operation for call in self.calls)

    def clear(self):
        self.calls.clear()


def _target(params: dict) -> str:
    if "TableName" in params:
        return params["TableName"]
    if "RequestItems" in params:
        return ",".join(sorted(params["RequestItems"]))
    if "TransactItems" in params:
        tables = set()
        for item in params["TransactItems"]:
            for action in item.values():
                tables.add(action.get("TableName", "?"))
        return ",".join(sorted(tables))
    if "Bucket" in params:
        return params["Bucket"]
    return ""


def live_clients() -> list[BaseClient]:
    """Every botocore client of this process (PynamoDB's, boto3's, ours)."""
    return [obj for obj in gc.get_objects() if isinstance(obj, BaseClient)]


@contextlib.contextmanager
def count_calls(clients=None):
    """Record every AWS call made by `clients` (default: all live ones)."""
    recorded = Calls()
    unique_id = f"latchkey-bench-count-{next(_ids)}"

    def note_target(params, context, **kwargs):
        # The API parameters (table, bucket) are only seen here; `before-call`
        # gets the serialized request, and the same `context`.
        context[_TARGET] = _target(params)

    def record(model, context, **kwargs):
        recorded.calls.append(Call(model.service_model.service_name, model.name, context.get(_TARGET, "")))

    registered = []
    for client in clients if clients is not None else live_clients():
        client.meta.events.register("before-parameter-build", note_target, unique_id=unique_id + "-target")
        client.meta.events.register("before-call", record, unique_id=unique_id)
        registered.append(client)
    try:
        yield recorded
    finally:
        for client in registered:
            client.meta.events.unregister("before-parameter-build", unique_id=unique_id + "-target")
            client.meta.events.unregister("before-call", unique_id=unique_id)
