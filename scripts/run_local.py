"""`make run`: the whole service on this machine.

An embedded AWS endpoint (moto's server, on 127.0.0.1 only) holds the
tables; the Chalice API runs beside it with the same authorizer as
deployed. moto keeps no state across restarts, so the endpoint's content is
saved to `.local/state.json` (or `$LATCHKEY_STATE_FILE`) every few seconds and on exit, and loaded at
the next start: tokens survive a restart, revoked ones stay revoked.

While it runs, `.local/run.json` (beside the state file) records its
endpoints, so that `manage.py` finds this stack whatever its ports.
"""
import base64
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import local_stack, stage_env  # noqa: E402

STATE_FILE = stage_env.state_file()
SAVE_EVERY_SECONDS = float(os.environ.get("LATCHKEY_SAVE_EVERY_SECONDS") or 5)  # tests that discard state: longer
# The deployed sweeper runs daily; locally it runs at start and then this
# often, writing its expiry notices to this log (issue 16).
SWEEP_EVERY_SECONDS = float(os.environ.get("LATCHKEY_SWEEP_EVERY_SECONDS") or 3600)
DEMO_EMAIL = "demo@example.com"
DEMO_REPOSITORY = "gh/demo/hello"


_CLIENTS: list = []


def _clients():
    """One DynamoDB and one S3 client for every save (creating them costs ~0.1 s each)."""
    if not _CLIENTS:
        import boto3

        _CLIENTS.extend([boto3.client("dynamodb"), boto3.client("s3")])
    return _CLIENTS[0], _CLIENTS[1]


def save_state(path: Path = STATE_FILE) -> None:
    """Write every table item and bucket object of the endpoint to `path`."""
    dynamodb, s3 = _clients()
    state: dict[str, dict] = {"tables": {}, "buckets": {}}
    for table in dynamodb.list_tables()["TableNames"]:
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        state["tables"][table] = items
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=name, Key=entry["Key"])["Body"].read()
                objects[entry["Key"]] = base64.b64encode(body).decode()
        state["buckets"][name] = objects
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


def load_state(path: Path = STATE_FILE) -> int:
    """Put back what `save_state` wrote (tables must exist); the item count."""
    if not path.exists():
        return 0
    state = json.loads(path.read_text())
    dynamodb, s3 = _clients()
    existing = set(dynamodb.list_tables()["TableNames"])
    count = 0
    for table, items in state.get("tables", {}).items():
        if table not in existing:
            continue
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
            dynamodb.batch_write_item(RequestItems={table: batch})
            count += len(batch)
    for bucket, objects in state.get("buckets", {}).items():
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=base64.b64decode(body))
    return count


def seed_demo() -> dict | None:
    """Create the demo user, organization, repository and one token of each
    kind, the first time only; return the tokens (or None if seeded before)."""
    from chalicelib.repository_ref import RepositoryRef
    from chalicelib.wiring import root

    admin = root().admin
    if admin.store.user_by_email(DEMO_EMAIL) is not None:
        return None
    account, project = admin.seed(DEMO_EMAIL, "Demo", RepositoryRef("gh", "demo", "hello"))
    return {"account": account.value, "project": project.value}


def _sweeper(stop: threading.Event) -> None:
    from chalicelib.wiring import root

    while True:
        try:
            root().sweeper.sweep()
        except Exception as error:  # keep serving; the next sweep resumes
            logging.getLogger(__name__).warning("sweep failed: %s", error)
        if stop.wait(SWEEP_EVERY_SECONDS):
            return


def _saver(stop: threading.Event) -> None:
    while not stop.wait(SAVE_EVERY_SECONDS):
        try:
            save_state()
        except Exception as error:  # keep serving; the next save may work
            logging.getLogger(__name__).warning("could not save local state: %s", error)


LOOPBACK = local_stack.LOOPBACK


def port_in_use(host: str, port: int) -> bool:
    """Whether binding `host:port` would fail as the servers bind it (SO_REUSEADDR on)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def busy_port_message(what: str, host: str, port: int, variable: str) -> str:
    return (f"error: {what} port {host}:{port} is already in use (another `make run`?). "
            f"Stop that one, or choose another port: make run {variable}={port + 1}")


def host_warning(host: str) -> str | None:
    """A warning when the API would be reachable from beyond this machine."""
    if host in (LOOPBACK, "localhost"):
        return None
    return (f"warning: HOST={host}: the API listens beyond 127.0.0.1, reachable by whoever can reach this "
            "address, with demo data and tokens printed here. The AWS endpoint stays on 127.0.0.1.")


def mint_hint() -> str:
    """How to get working tokens when the demo's are no longer shown."""
    return ("Demo data already present; its tokens were shown at first start only. New ones:\n"
            f"  export API_TOKEN=$(.venv/bin/python manage.py issue-token {DEMO_EMAIL})\n"
            f"  export PROJECT_TOKEN=$(.venv/bin/python manage.py issue-project-token {DEMO_REPOSITORY})")


@click.command()
@click.option("--host", envvar="HOST", default=LOOPBACK, show_default=True,
              help="Address the API binds (the AWS endpoint is always 127.0.0.1).")
@click.option("--port", envvar="PORT", default=8000, show_default=True, help="API port.")
@click.option("--aws-port", envvar="LOCAL_AWS_PORT", default=stage_env.DEFAULT_LOCAL_PORT, show_default=True,
              help="Embedded AWS endpoint port.")
@click.option("--idp-port", envvar="LOCAL_IDP_PORT", default=8001, show_default=True,
              help="Development OpenID Connect provider port (the console signs in there).")
@click.option("--stage", default="dev", show_default=True)
def main(host, port, aws_port, idp_port, stage):
    """Serve the whole service on this machine (what `make run` runs)."""
    for what, where, number, variable in (("API", host, port, "PORT"),
                                          ("AWS endpoint", LOOPBACK, aws_port, "LOCAL_AWS_PORT"),
                                          ("development OpenID Connect provider", LOOPBACK, idp_port,
                                           "LOCAL_IDP_PORT")):
        if port_in_use(where, number):
            raise SystemExit(busy_port_message(what, where, number, variable))
    warning = host_warning(host)
    if warning:
        click.echo(warning, err=True)
    os.environ["LOCAL_AWS_PORT"] = str(aws_port)
    os.environ["AWS_ENDPOINT_URL"] = stage_env.local_endpoint()
    stage_env.configure(stage, local=True)
    # The console signs in at the development provider unless the stage
    # names another issuer; the settings refuse it for prod.
    os.environ.setdefault("OIDC_ISSUER", f"http://127.0.0.1:{idp_port}")
    os.environ.setdefault("OIDC_CLIENT_ID", "latchkey-console")
    from chalicelib.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as error:
        raise SystemExit(f"error: {error}") from None
    from chalicelib import telemetry

    telemetry.configure_local(sys.stdout)
    idp = None
    if settings.oidc_issuer == f"http://127.0.0.1:{idp_port}":
        from scripts.local_idp import LocalIdP

        idp = LocalIdP(STATE_FILE.parent / "idp-key.pem", idp_port, client_id=str(settings.oidc_client_id),
                       redirect_prefix=f"http://127.0.0.1:{port}/console/callback").start()

    for noisy in ("werkzeug", "botocore", "pynamodb", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    aws = local_stack.start_aws_endpoint(aws_port)
    restored = load_state()
    click.echo(f"AWS endpoint: {stage_env.local_endpoint()} ({restored} items restored from {STATE_FILE.name})")
    tokens = seed_demo()
    if tokens:
        click.echo(
            f"\nDemo data: user {DEMO_EMAIL}, organization gh/demo, repository {DEMO_REPOSITORY} (admin).\n"
            "These tokens are shown once; keep them:\n"
            f"  account token (api-token):     {tokens['account']}\n"
            f"  project token (project-token): {tokens['project']}\n"
        )
    else:
        click.echo(mint_hint())
    from chalicelib.settings import get_settings

    settings = get_settings()
    click.echo("Keyless CI issuers (CI_OIDC_ISSUERS): "
               + ", ".join(f"{i.name}={i.issuer}" for i in settings.ci_oidc_issuers))
    click.echo(f"Secret-scanning keys (GITHUB_SECRET_SCANNING_KEYS_URL): {settings.github_secret_scanning_keys_url}")
    save_state()

    server = local_stack.api_server(stage, host, port)
    # A wildcard address is reached on loopback too; compared only, never bound here.
    shown = LOOPBACK if host in ("0.0.0.0", "::") else host  # nosec B104
    stage_env.write_run_file(f"http://{shown}:{port}", stage_env.local_endpoint(), stage)
    click.echo(f"Console: http://{shown}:{port}/console (sign in as {DEMO_EMAIL}"
               + (f" at the development provider {idp.issuer})" if idp else f" at {settings.oidc_issuer})"))
    click.echo(f"API documentation: http://{shown}:{port}/docs")

    stop = threading.Event()
    threading.Thread(target=_saver, args=(stop,), daemon=True).start()
    threading.Thread(target=_sweeper, args=(stop,), daemon=True).start()

    def shutdown(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # Stop accepting, save once, then stop the endpoint: a second or so.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        server.server.server_close()
        stage_env.remove_run_file()
        save_state()
        aws.stop()
        if idp:
            idp.stop()
        click.echo(f"\nstopped; local data saved to {STATE_FILE}")
    # Everything is saved and stopped: skip the interpreter's teardown of
    # moto's in-memory backends, which takes seconds of its own.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
