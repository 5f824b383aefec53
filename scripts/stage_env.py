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


def configure(stage: str = "dev", local: bool = True) -> str | None:
    """Set the stage's variables; with `local`, aim every AWS client at the
    embedded endpoint of `make run` (the running one's, from `.local/run.json`,
    unless AWS_ENDPOINT_URL or LOCAL_AWS_PORT say otherwise) with throwaway
    credentials. Returns "<endpoint> (<where it came from>)" when local."""
    for name, value in stage_variables(stage).items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if not local:
        return None
    endpoint, source = local_endpoint_source()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    return f"{endpoint} ({source})"


# -- the running `make run` ------------------------------------------------------


def state_file() -> Path:
    """Where `make run` keeps the local endpoint's data between runs."""
    return Path(os.environ.get("LATCHKEY_STATE_FILE") or PROJECT_DIR / ".local" / "state.json")


def run_file() -> Path:
    """Where a running `make run` records its endpoints (beside its state file)."""
    return state_file().parent / "run.json"


def write_run_file(api_url: str, aws_endpoint: str, stage: str) -> Path:
    path = run_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"api": api_url, "aws_endpoint": aws_endpoint, "stage": stage, "pid": os.getpid()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record) + "\n")
    os.replace(temporary, path)
    return path


def remove_run_file() -> None:
    path = run_file()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_stack() -> dict | None:
    """The endpoints of the `make run` of this checkout, if one is running."""
    try:
        record = json.loads(run_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not _alive(record.get("pid")) or not record.get("aws_endpoint"):
        return None
    return record


def local_endpoint_source() -> tuple[str, str]:
    """The AWS endpoint `manage.py` should use locally, and where it came from."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL"
    if os.environ.get("LOCAL_AWS_PORT"):
        return local_endpoint(), "LOCAL_AWS_PORT"
    stack = running_stack()
    if stack:
        return stack["aws_endpoint"], f"the running make run ({run_file()})"
    return local_endpoint(), "the default port (no make run recorded in " f"{run_file()})"
