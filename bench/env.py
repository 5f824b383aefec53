"""The environment every bench process runs in (set before chalicelib is imported)."""
import os

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "TOKENS_TABLE": "latchkey-bench-tokens",
    "DIRECTORY_TABLE": "latchkey-bench-directory",
    "UPLOADS_TABLE": "latchkey-bench-uploads",
    "UPLOADS_BUCKET": "latchkey-bench-uploads",
    "AUDIT_TABLE": "latchkey-bench-audit",
    # The sample tokens were "used" at load time: timing measures the
    # decision, not the at-most-once-per-5-minutes write (counted apart).
    "LAST_USED_INTERVAL_SECONDS": "86400",
}


def bench_environ(**extra) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(ENV, **extra)
    return environ
