"""Fault injection for AWS calls: make the Nth call (of an operation, or of
any call) fail the way DynamoDB or S3 fail in production.

Every botocore client (PynamoDB's, boto3's S3 client) funnels its calls
through `BaseClient._make_api_call`; the injector wraps it, so it sees calls
of clients created before it was armed and costs nothing when not armed.
A failure raised there is what the service sees once botocore's own retries
are exhausted. Use it through the `faults` fixture:

    faults.fail("TransactWriteItems", kind="throttle")        # first such call
    faults.fail(None, nth=3, kind="timeout")                   # third call of any kind
    faults.fail("PutObject", kind="lost")                      # applied, answer lost

Kinds:
- `throttle`: DynamoDB ProvisionedThroughputExceededException / S3 SlowDown (HTTP 400/503);
- `5xx`: InternalServerError (HTTP 500);
- `timeout`: the read timed out (botocore ReadTimeoutError), nothing applied;
- `cancelled`: a transaction cancelled for throttling (TransactionCanceledException);
- `lost`: the call is applied, then the answer is lost (ReadTimeoutError);
- `replay`: the call is applied, its answer lost, and botocore sends it again,
  as its retry does: like DynamoDB, a repeated `ClientRequestToken` is then a
  no-op success, anything else is really executed twice;
- `resend`: as `replay`, but always executed twice (DynamoDB's idempotency
  window of 10 minutes passed, or no request token was sent).
"""
import threading
from dataclasses import dataclass, field

from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

KINDS = ("throttle", "5xx", "timeout")
APPLIED_KINDS = ("lost", "replay")


def _client_error(service: str, operation: str, code: str, status: int, **extra) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        **extra,
    }
    return ClientError(response, operation)


def make_error(kind: str, service: str, operation: str, params: dict) -> Exception:
    if kind == "throttle":
        if service == "s3":
            return _client_error(service, operation, "SlowDown", 503)
        return _client_error(service, operation, "ProvisionedThroughputExceededException", 400)
    if kind == "5xx":
        return _client_error(service, operation, "InternalServerError", 500)
    if kind == "cancelled":
        reasons = [{"Code": "ThrottlingError", "Message": "injected"} for _ in params.get("TransactItems", [None])]
        return _client_error(service, operation, "TransactionCanceledException", 400, CancellationReasons=reasons)
    if kind in ("timeout", "lost", "replay", "resend"):
        return ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com/")
    raise ValueError(f"unknown fault kind {kind!r}")


@dataclass
class Rule:
    operation: str | None  # None: any operation
    nth: int
    kind: str
    seen: int = 0
    fired: bool = False


@dataclass
class Faults:
    """Records every AWS call (as "service.Operation") and fires armed rules."""

    calls: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    injected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, operation: str | None = None, *, nth: int = 1, kind: str = "throttle") -> Rule:
        rule = Rule(operation, nth, kind)
        self.rules.append(rule)
        return rule

    def reset(self) -> None:
        self.calls.clear()
        self.rules.clear()

    def ops(self) -> list[str]:
        return list(self.calls)

    def _match(self, operation: str) -> Rule | None:
        with self.lock:
            self.calls.append(operation)
            for rule in self.rules:
                if rule.fired or (rule.operation is not None and rule.operation != operation.split(".")[1]):
                    continue
                rule.seen += 1
                if rule.seen == rule.nth:
                    rule.fired = True
                    self.injected += 1
                    return rule
        return None

    def install(self, monkeypatch) -> "Faults":
        real = BaseClient._make_api_call
        faults = self

        def make_api_call(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            rule = faults._match(f"{service}.{operation_name}")
            if rule is None:
                return real(client, operation_name, api_params)
            error = make_error(rule.kind, service, operation_name, api_params)
            if rule.kind == "lost":
                real(client, operation_name, api_params)
            elif rule.kind in ("replay", "resend"):
                first = real(client, operation_name, api_params)
                if rule.kind == "replay" and "ClientRequestToken" in api_params:
                    return first  # DynamoDB: the same request token is idempotent
                return real(client, operation_name, api_params)
            raise error

        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
        return self
