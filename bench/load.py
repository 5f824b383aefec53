"""Item 5: a bounded load run over HTTP on 127.0.0.1 against bench.stack.

Several clients, each with one keep-alive connection, send the same request
for a fixed time; requests per second and latency percentiles come out.
"""
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.env import bench_environ
from bench.stats import summary
from scripts.ports import free_port, interrupt

PROJECT_DIR = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
COVERAGE = {"fileReports": [{"filename": "src/a.py", "coverage": {"10": 1, "19": 0, "20": 3}}]}


class Stack:
    def __enter__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.stack", str(self.port), str(free_port())], cwd=PROJECT_DIR,
            env=bench_environ(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # stderr: the local server's access log
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("bench.stack did not start")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc):
        interrupt(self.process, timeout=20)


def run(port: int, method: str, path: str, headers: dict, body: bytes | None,
        clients: int, seconds: float, warmup: int = 10) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, seen = [], {}

        def once():
            begin = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return time.perf_counter() - begin, response.status

        for _ in range(warmup):
            once()
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            elapsed, status = once()
            mine.append(elapsed)
            seen[status] = seen.get(status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {"rps": len(latencies) / elapsed, "statuses": statuses, "clients": clients, **summary(latencies)}


def measure(clients: int = 4, seconds: float = 8.0) -> dict:
    with Stack() as stack:
        tokens = stack.info["tokens"]
        account = {"api-token": tokens["account"]}
        project = {"project-token": tokens["project"]}
        scenarios = {
            "ping": ("GET", "/bench/ping", {}, None),
            "unknown_route": ("GET", "/no/such/route", {}, None),
            "get_user": ("GET", "/api/v3/user", account, None),
            "get_repository_project_token": (
                "GET", "/api/v3/organizations/gh/bench/repositories/hello", project, None),
        }
        if stack.info["upload_route"]:
            scenarios["coverage_upload"] = (
                "POST", f"/2.0/coverage/{COMMIT}/python", {**project, "Content-Type": "application/json"},
                json.dumps(COVERAGE).encode())
        results = {}
        for name, (method, path, headers, body) in scenarios.items():
            results[name] = {"request": f"{method} {path}",
                             **run(stack.port, method, path, headers, body, clients, seconds)}
        if not stack.info["upload_route"]:
            results["coverage_upload"] = {"request": "POST /2.0/coverage/{commit}/{language}",
                                          "absent": "route not present"}
    return results
