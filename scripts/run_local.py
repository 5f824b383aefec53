"""`make run`: the whole service on this machine.

An embedded AWS endpoint (moto's server, on 127.0.0.1 only) holds the
tables; the Chalice API runs beside it with the same authorizer as
deployed. moto keeps no state across restarts, so the endpoint's content is
saved to `.local/state.json` (or `$LATCHKEY_STATE_FILE`) every few seconds and on exit, and loaded at
the next start: tokens survive a restart, revoked ones stay revoked.
"""
import base64
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import stage_env  # noqa: E402

STATE_FILE = Path(os.environ.get("LATCHKEY_STATE_FILE") or stage_env.PROJECT_DIR / ".local" / "state.json")
SAVE_EVERY_SECONDS = float(os.environ.get("LATCHKEY_SAVE_EVERY_SECONDS") or 5)  # tests that discard state: longer
DEMO_EMAIL = "demo@example.com"


def _clients():
    import boto3

    return boto3.client("dynamodb"), boto3.client("s3")


def save_state(path: Path = STATE_FILE) -> None:
    """Write every table item and bucket object of the endpoint to `path`."""
    dynamodb, s3 = _clients()
    state = {"tables": {}, "buckets": {}}
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
    from chalicelib.services.admin import AdminService

    admin = AdminService()
    if admin.store.user_by_email(DEMO_EMAIL) is not None:
        return None
    account, project = admin.seed(DEMO_EMAIL, "Demo", "gh", "demo", "hello")
    return {"account": account.value, "project": project.value}


def _saver(stop: threading.Event) -> None:
    while not stop.wait(SAVE_EVERY_SECONDS):
        try:
            save_state()
        except Exception as error:  # keep serving; the next save may work
            logging.getLogger(__name__).warning("could not save local state: %s", error)


@click.command()
@click.option("--port", envvar="PORT", default=8000, show_default=True, help="API port.")
@click.option("--aws-port", envvar="LOCAL_AWS_PORT", default=stage_env.DEFAULT_LOCAL_PORT, show_default=True,
              help="Embedded AWS endpoint port.")
@click.option("--idp-port", envvar="LOCAL_IDP_PORT", default=8001, show_default=True,
              help="Development OpenID Connect provider port (the console signs in there).")
@click.option("--stage", default="dev", show_default=True)
def main(port, aws_port, idp_port, stage):
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
    idp = None
    if settings.oidc_issuer == f"http://127.0.0.1:{idp_port}":
        from scripts.local_idp import LocalIdP

        idp = LocalIdP(STATE_FILE.parent / "idp-key.pem", idp_port, client_id=str(settings.oidc_client_id),
                       redirect_prefix=f"http://127.0.0.1:{port}/console/callback").start()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    for noisy in ("werkzeug", "botocore", "pynamodb", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    aws = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    aws.start()
    from chalicelib.store.tables import ensure_tables

    ensure_tables()
    restored = load_state()
    click.echo(f"AWS endpoint: {stage_env.local_endpoint()} ({restored} items restored from {STATE_FILE.name})")
    tokens = seed_demo()
    if tokens:
        click.echo(
            "\nDemo data: user demo@example.com, organization gh/demo, repository gh/demo/hello (admin).\n"
            "These tokens are shown once; keep them:\n"
            f"  account token (api-token):     {tokens['account']}\n"
            f"  project token (project-token): {tokens['project']}\n"
        )
    else:
        click.echo("Demo data already present (its tokens were printed at first start).")
    from chalicelib.settings import get_settings

    settings = get_settings()
    click.echo("Keyless CI issuers (CI_OIDC_ISSUERS): "
               + ", ".join(f"{i.name}={i.issuer}" for i in settings.ci_oidc_issuers))
    click.echo(f"Secret-scanning keys (GITHUB_SECRET_SCANNING_KEYS_URL): {settings.github_secret_scanning_keys_url}")
    save_state()

    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(stage_env.PROJECT_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    # Python's HTTP server leaves Nagle's algorithm on: a keep-alive client
    # then waits ~40 ms for every response (measured by `make bench`).
    from chalice.local import ChaliceRequestHandler

    ChaliceRequestHandler.disable_nagle_algorithm = True
    server = factory.create_local_server(config.chalice_app, config, "127.0.0.1", port)
    click.echo(f"Console: http://127.0.0.1:{port}/console (sign in as {DEMO_EMAIL}"
               + (f" at the development provider {idp.issuer})" if idp else f" at {settings.oidc_issuer})"))
    click.echo(f"API documentation: http://127.0.0.1:{port}/docs")

    stop = threading.Event()
    threading.Thread(target=_saver, args=(stop,), daemon=True).start()

    def shutdown(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        save_state()
        aws.stop()
        if idp:
            idp.stop()
        click.echo(f"\nstopped; local data saved to {STATE_FILE}")


if __name__ == "__main__":
    main()
