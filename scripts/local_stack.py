"""The local stack, started one way for `make run` (scripts/run_local.py)
and for the bench's end-to-end server (bench/stack.py): moto's server as
the AWS endpoint on 127.0.0.1 with the service's tables, and Chalice's
local server in front of the app with the deployed gateway's behaviour.

Each caller seeds its own data, and stops what it started.
"""
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def start_aws_endpoint(port: int, *, serialised: bool = True):
    """moto's server on 127.0.0.1:`port`, this process's AWS endpoint, with
    the service's tables; started (call `.stop()`). `serialised`: DynamoDB's
    atomic conditional writes under concurrent requests (scripts/local_aws.py)."""
    from moto.server import ThreadedMotoServer

    os.environ["AWS_ENDPOINT_URL"] = f"http://{LOOPBACK}:{port}"
    if serialised:
        from scripts.local_aws import serialise_dynamodb

        serialise_dynamodb()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    from chalicelib.store.tables import ensure_tables

    ensure_tables()
    return server


def api_server(stage: str, host: str, port: int):
    """Chalice's local server for the app on `host:port` (not yet serving:
    call `serve_forever()`), answering as the deployed gateway does."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer

    from chalicelib.api.local_gateway import serve_with_parity

    factory = CLIFactory(project_dir=str(PROJECT_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    # Python's HTTP server leaves Nagle's algorithm on: a keep-alive client
    # then waits ~40 ms for every response (its headers and body are written
    # separately, the body waiting for the client's delayed ACK). Deployed,
    # API Gateway and Lambda sit in front instead: no such stall.
    ChaliceRequestHandler.disable_nagle_algorithm = True
    # A keep-alive client holds its handler thread; as daemons they do not
    # keep Ctrl-C waiting for the client to hang up.
    ThreadedHTTPServer.daemon_threads = True
    server = factory.create_local_server(config.chalice_app, config, host, port)
    # As deployed: repeated headers reach the authorizer, malformed requests
    # get a prompt JSON 4xx.
    serve_with_parity(server, config.chalice_app, config)
    return server
