"""The environment every bench process runs in (set before chalicelib is imported)."""
import os

from chalicelib.stage_names import stage_names

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    **stage_names("bench").resource_variables(),
    # The sample tokens were "used" at load time: timing measures the
    # decision, not the at-most-once-per-5-minutes write (counted apart).
    "LAST_USED_INTERVAL_SECONDS": "86400",
}


def bench_environ(**extra) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(ENV, **extra)
    return environ
