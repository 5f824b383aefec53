"""Point this process at a stage's tables, the way its Lambdas are.

The Lambda functions get their settings from the stage's
`environment_variables` in `.chalice/config.json`; `make run` and
`manage.py` read the same file so that all of them use the same tables.
Must run before any `chalicelib.models` import (PynamoDB reads table names
at import).
"""
import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_LOCAL_PORT = 4566


def local_endpoint() -> str:
    return f"http://127.0.0.1:{os.environ.get('LOCAL_AWS_PORT', DEFAULT_LOCAL_PORT)}"


def stage_variables(stage: str) -> dict[str, str]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise SystemExit(f"error: no stage {stage!r} in .chalice/config.json")
    variables = dict(config.get("environment_variables", {}))
    variables.update(config["stages"][stage].get("environment_variables", {}))
    return variables


def configure(stage: str = "dev", local: bool = True) -> None:
    """Set the stage's variables; with `local`, aim every AWS client at the
    embedded endpoint of `make run` with throwaway credentials."""
    for name, value in stage_variables(stage).items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if local:
        os.environ.setdefault("AWS_ENDPOINT_URL", local_endpoint())
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
