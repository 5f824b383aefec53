"""The local server for the end-to-end figures, in its own process.

What `make run` serves (the embedded AWS endpoint and the Chalice local
server, the same authorizer as deployed) on free 127.0.0.1 ports, with its
own throwaway data: `.local/state.json` is never touched. It adds one
trivial public route, `GET /bench/ping`, to this process's app only, as the
baseline of the same server.

    python -m bench.stack API_PORT AWS_PORT   # prints one JSON line when ready
"""
import json
import logging
import os
import socketserver
import sys

UPLOAD_ROUTE = "/2.0/coverage/{commit}/{language}"


def seed() -> dict:
    from chalicelib.wiring import root

    account, project = root().admin.seed("bench@example.com", "Bench", "gh", "bench", "hello")
    return {"account": account.value, "project": project.value}


def main():
    api_port, aws_port = int(sys.argv[1]), int(sys.argv[2])
    # Python's HTTP servers write a response's headers and body separately;
    # with Nagle's algorithm on, the body waits for the client's delayed ACK
    # (~40 ms on Linux) and every keep-alive request would measure that.
    # Deployed, API Gateway and Lambda sit in front instead: no such stall.
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{aws_port}"
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("werkzeug", "botocore", "pynamodb", "chalice", "latchkey"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    aws = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    aws.start()
    from chalicelib.store.tables import ensure_tables

    ensure_tables()
    tokens = seed()

    from chalice.cli.factory import CLIFactory

    from app import app

    @app.route("/bench/ping", methods=["GET"])
    def ping():
        return {"ok": True}

    project_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    factory = CLIFactory(project_dir=project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name="dev")
    server = factory.create_local_server(app, config, "127.0.0.1", api_port)
    print(json.dumps({"ready": api_port, "tokens": tokens, "upload_route": UPLOAD_ROUTE in app.routes}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
