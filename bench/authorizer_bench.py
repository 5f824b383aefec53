"""Items 2 and 3: one authorizer decision vs one bare botocore GetItem on
the same table in the same run, at 1,000 and at 100,000 stored tokens, and
the token listings. Run as its own process per backend:

    python -m bench.authorizer_bench moto|server SIZE [SIZE...] --rounds N

and prints one JSON document.
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from scripts.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/api/v3/user"


class InProcess:
    """moto's in-process mock; data written straight into its backend."""

    def __enter__(self):
        from moto import mock_aws

        self.mock = mock_aws()
        self.mock.start()
        from bench.dataset import Dataset
        from chalicelib.store.tables import ensure_tables

        ensure_tables()
        self.data = Dataset()
        return self

    def grow(self, tokens):
        self.data.grow_to(tokens)
        return self.data.samples

    def listing(self):
        return self.data.add_listing_owners()

    def snapshot(self, name):
        self.data.snapshot(name)

    def use(self, name):
        self.data.use(name)

    def __exit__(self, *exc):
        self.mock.stop()


class Endpoint:
    """The embedded endpoint (ThreadedMotoServer) in a process of its own."""

    def __enter__(self):
        port = free_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.endpoint", str(port)], cwd=PROJECT_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        json.loads(self.process.stdout.readline())["ready"]
        return self

    def _ask(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def grow(self, tokens):
        return self._ask(do="grow", tokens=tokens)["samples"]

    def listing(self):
        return self._ask(do="listing")["owners"]

    def snapshot(self, name):
        self._ask(do="snapshot", name=name)

    def use(self, name):
        self._ask(do="use", name=name)

    def __exit__(self, *exc):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def allowed(decision) -> bool:
    return decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def bare_client():
    """A plain botocore DynamoDB client configured as PynamoDB's is."""
    import botocore.session
    from botocore.config import Config

    from chalicelib.settings import get_settings

    settings = get_settings()
    return botocore.session.get_session().create_client(
        "dynamodb", settings.region,
        config=Config(parameter_validation=False, retries={"total_max_attempts": settings.aws_max_attempts,
                                                           "mode": "standard"},
                      connect_timeout=settings.aws_connect_timeout_seconds,
                      read_timeout=settings.aws_read_timeout_seconds),
    )


def measure(backend, sizes: list[int], rounds: int, listing_rounds: int) -> dict:
    from bench.calls import count_calls, live_clients
    from bench.stats import summary
    from chalicelib import token_format
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore
    from chalicelib.wiring import Root

    table = get_settings().tokens_table
    results = {"sizes": {}}
    with backend as store_backend:
        authorizer = TokenAuthorizer(Root())
        client = bare_client()
        owners = None
        for size in sizes:
            samples = store_backend.grow(size)
            if owners is None:
                owners = store_backend.listing()
            if size == sizes[0]:  # the same tokens, present at every size
                events = [{"type": "REQUEST", "methodArn": ARN, "headers": {"api-token": s}} for s in samples]
                keys = [{"pk": {"S": token_format.digest(s)}} for s in samples]
            assert authorizer(events[0])["policyDocument"]["Statement"][0]["Effect"] == "Allow"
            clients = live_clients()  # before gc.freeze(), which hides objects from gc
            with count_calls(clients) as calls:
                authorizer(events[1])
            figures = {"decision_calls": dict(calls.summary())}
            store = TokenStore(get_settings())
            # Listings at the first size only: moto answers a GSI Query by
            # scanning the whole table, so its latency at 100,000 items
            # measures moto; the number of queries does not depend on size.
            for name, owner in zip(("user", "repository"), owners if size == sizes[0] else (), strict=False):
                figures[f"listing_{name}"] = listing_figures(store, owner, clients, listing_rounds)
            results["sizes"][str(size)] = figures
            store_backend.snapshot(str(size))
        functions = {
            "decision": lambda i: authorizer(events[i % len(events)]),
            "get_item": lambda i: client.get_item(TableName=table, Key=keys[i % len(keys)], ConsistentRead=True),
        }
        blocks = max(2, min(10, rounds // 50))

        def check() -> bool:
            return all(allowed(authorizer(event)) for event in events)

        pooled = timed_by_size(store_backend, sizes, functions, rounds, blocks, check)
        for size, by_name in pooled.items():
            results["sizes"][size].update({name: summary(values) for name, values in by_name.items()})
            results["sizes"][size]["blocks"] = blocks
    return results


def listing_figures(store, owner, clients, rounds: int) -> dict:
    """One owner's token listing: its calls at 100 a page and at 25 a page, and its latency."""
    from bench.calls import count_calls, live_clients
    from bench.stats import summary

    store.page(owner, limit=100, cursor=None)
    with count_calls(live_clients()) as calls:
        page = store.page(owner, limit=100, cursor=None)
    pages, cursor, queries = 0, None, 0
    while True:  # the same listing, 25 a page
        with count_calls(clients) as paged:
            part = store.page(owner, limit=25, cursor=cursor)
        queries += paged.operations()["Query"]
        pages += 1
        cursor = part.cursor
        if not cursor:
            break
    samples_s = []
    for _ in range(rounds):
        start = time.perf_counter()
        store.page(owner, limit=100, cursor=None)
        samples_s.append(time.perf_counter() - start)
    return {
        "items": len(page.items), "total": page.total,
        "queries": calls.operations()["Query"], "calls": dict(calls.summary()),
        "pages_of_25": pages, "queries_of_25": queries, **summary(samples_s),
    }


def timed_by_size(store_backend, sizes: list[int], functions: dict, rounds: int, blocks: int,
                  check) -> dict[str, dict[str, list[float]]]:
    """Samples of each function at each size, `rounds` in all per size.

    The sizes are timed in alternating blocks (1k, 100k, 100k, 1k, ...):
    the machine's load drifts, and must fall on both sizes alike. `check`
    (the decisions still allowed) runs in the first two blocks.
    """
    from bench.stats import interleaved_samples

    gc.collect()
    gc.freeze()  # the bulk data is the database's, not the function's: keep it out of GC passes
    pooled: dict[str, dict[str, list[float]]] = {str(size): {name: [] for name in functions} for size in sizes}
    for block in range(blocks):
        for size in (sizes if block % 2 == 0 else sizes[::-1]):
            store_backend.use(str(size))
            if block < 2:
                assert check(), size
            for name, values in interleaved_samples(functions, rounds // blocks, warmup=5).items():
                pooled[str(size)][name].extend(values)
    gc.unfreeze()
    return pooled


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["moto", "server"])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--listing-rounds", type=int, default=20)
    args = parser.parse_args()
    backend = InProcess() if args.backend == "moto" else Endpoint()
    print(json.dumps(measure(backend, args.sizes, args.rounds, args.listing_rounds)))


if __name__ == "__main__":
    main()
