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
import sys

UPLOAD_ROUTE = "/2.0/coverage/{commit}/{language}"


def seed() -> dict:
    from chalicelib.repository_ref import RepositoryRef
    from chalicelib.wiring import root

    account, project = root().admin.seed("bench@example.com", "Bench", RepositoryRef("gh", "bench", "hello"))
    return {"account": account.value, "project": project.value}


def main():
    api_port, aws_port = int(sys.argv[1]), int(sys.argv[2])
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("werkzeug", "botocore", "pynamodb", "chalice", "latchkey"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from scripts.local_stack import api_server, start_aws_endpoint

    aws = start_aws_endpoint(aws_port)
    tokens = seed()

    from app import app

    @app.route("/bench/ping", methods=["GET"])
    def ping():
        return {"ok": True}

    server = api_server("dev", "127.0.0.1", api_port)
    print(json.dumps({"ready": api_port, "tokens": tokens, "upload_route": UPLOAD_ROUTE in app.routes}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
