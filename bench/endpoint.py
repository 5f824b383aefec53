"""The embedded local AWS endpoint for the bench, in its own process.

moto's ThreadedMotoServer on a free 127.0.0.1 port, with the service's
tables; the bench drives it over stdin (one JSON command a line) to load
data straight into its backend, and reads one JSON answer a line.
"""
import json
import logging
import os
import sys


def main():
    port = int(sys.argv[1])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    from bench.dataset import Dataset
    from chalicelib.store.tables import ensure_tables

    ensure_tables()
    data = Dataset()
    print(json.dumps({"ready": port}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "grow":
            data.grow_to(command["tokens"])
            answer = {"tokens": data.tokens, "samples": data.samples}
        elif command["do"] == "listing":
            answer = {"owners": data.add_listing_owners(command.get("count", 100))}
        elif command["do"] == "snapshot":
            data.snapshot(command["name"])
            answer = {}
        elif command["do"] == "use":
            data.use(command["name"])
            answer = {}
        else:
            break
        print(json.dumps(answer), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
