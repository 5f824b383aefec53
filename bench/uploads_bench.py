"""Uploads at the limits (issue 11): read-back cost by commit size, the
merge's memory, the slowest upload at the largest body, the per-commit bounds.

    python -m bench.uploads_bench [--quick]     # one JSON line on stdout

Requests go through chalice.test.Client (the routes, the authorizer, the
services) on in-process moto. The environment is bench.env's (bench.run
starts this module with it).
"""
import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc

COMMIT_SMALL = "1" * 40
COMMIT_LARGE = "2" * 40
COMMIT_BODIES = "3" * 40
READ = "/api/v3/organizations/gh/bench/repositories/uploads/commits/{commit}/{what}"


def coverage_body(report: int, target_bytes: int) -> bytes:
    """A coverage report of distinct files whose size in Lambda's event is
    just under `target_bytes` (v2.event_bytes)."""
    from chalicelib.api.v2 import event_bytes

    lines_per_file = 200
    entry = {str(n): n % 3 for n in range(1, lines_per_file + 1)}
    one = len(json.dumps({"filename": f"src/r{report:03}/f000000.py", "coverage": entry}, separators=(",", ":")))
    files = max(1, int(target_bytes / (one * 1.3)))
    while True:
        body = json.dumps({"fileReports": [{"filename": f"src/r{report:03}/f{i:06}.py", "coverage": entry}
                                           for i in range(files)]}, separators=(",", ":")).encode()
        if event_bytes(body) <= target_bytes or files == 1:
            return body
        files = int(files * 0.97)


def issues_body(batch: int, target_bytes: int, files: int = 500) -> bytes:
    from chalicelib.api.v2 import event_bytes

    def issue(name, line):
        return {"Issue": {"patternId": {"value": "p"}, "filename": name, "message": "m", "level": "Info",
                          "location": {"LineLocation": {"line": line}}}}

    count = min(50_000, max(files, int(target_bytes / 170)))
    while True:
        per_file = max(1, count // files)
        names = [f"src/b{batch:03}/f{i:05}.js" for i in range(files)]
        body = json.dumps([{"tool": "eslint", "issues": {"Success": {"results": [
            {"filename": name, "results": [issue(name, n + 1) for n in range(per_file)]} for name in names]}}}],
            separators=(",", ":")).encode()
        if event_bytes(body) <= target_bytes or count <= files:
            return body
        count = int(count * 0.95)


def metrics_body(target_bytes: int) -> bytes:
    from chalicelib.api.v2 import event_bytes

    # At most 50,000 results a request (MAX_ANALYSIS_RESULTS): each result
    # carries line complexities so that 50,000 of them fill the body.
    count = min(50_000, int(target_bytes / 60))
    lines = max(0, int((target_bytes / count - 60) / 26))
    while True:
        body = json.dumps([{"language": "javascript", "metrics": {"Success": {"results": [
            {"file": f"src/f{i:06}.js", "metrics": {"loc": 10, "complexity": 2, "lineComplexities": [
                {"line": n + 1, "value": 1} for n in range(lines)]}} for i in range(count)]}}}],
            separators=(",", ":")).encode()
        if event_bytes(body) <= target_bytes:
            return body
        count = int(count * 0.95)


def duplication_body(target_bytes: int) -> bytes:
    from chalicelib.api.v2 import event_bytes

    count = min(50_000, int(target_bytes / 150))
    clone = {"cloneLines": "x", "nrTokens": 40, "nrLines": 5,
             "files": [{"filePath": "src/a.js", "startLine": 1, "endLine": 5},
                       {"filePath": "src/b.js", "startLine": 10, "endLine": 14}]}
    while True:
        body = json.dumps([{"language": "javascript", "duplication": {"Success": {
            "analysedFiles": ["src/a.js", "src/b.js"], "results": [clone] * count}}}],
            separators=(",", ":")).encode()
        if event_bytes(body) <= target_bytes:
            return body
        count = int(count * 0.95)


class Caller:
    def __init__(self, client, project: str, reader: str):
        self.client, self.project, self.reader = client, project, reader

    def post(self, path: str, body: bytes) -> tuple[int, float]:
        start = time.perf_counter()
        response = self.client.http.post(path, headers={"project-token": self.project,
                                                        "content-type": "application/json"}, body=body)
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.body[:300]!r}")
        return response.status_code, seconds

    def read(self, commit: str, what: str) -> tuple[float, int]:
        start = time.perf_counter()
        response = self.client.http.get(READ.format(commit=commit, what=what), headers={"api-token": self.reader})
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"read-back {what}: {response.status_code}")
        return seconds, len(response.body)


def read_back_ratio(caller: Caller, what: str, rounds: int) -> dict:
    """Medians of the read-back of the small and the large commit, interleaved."""
    small, large, sizes = [], [], {}
    for _ in range(rounds):
        seconds, sizes["small"] = caller.read(COMMIT_SMALL, what)
        small.append(seconds)
        seconds, sizes["large"] = caller.read(COMMIT_LARGE, what)
        large.append(seconds)
    return {"small_ms": statistics.median(small) * 1000, "large_ms": statistics.median(large) * 1000,
            "ratio": statistics.median(large) / statistics.median(small), "answer_bytes": sizes, "rounds": rounds}


def measure(quick: bool) -> dict:
    from chalice.test import Client
    from moto import mock_aws

    body_bytes = 200_000 if quick else 6_000_000
    rounds = 5 if quick else 30
    with mock_aws():
        from app import app
        from chalicelib.repository_ref import RepositoryRef
        from chalicelib.settings import get_settings
        from chalicelib.store.tables import ensure_tables
        from chalicelib.wiring import root

        ensure_tables()
        settings = get_settings()
        account, project = root().admin.seed("bench@example.com", "Bench", RepositoryRef("gh", "bench", "uploads"))
        figures: dict = {"bounds": {
            name.upper(): getattr(settings, name) for name in (
                "max_upload_bytes", "max_analysis_results", "max_coverage_bytes_per_commit",
                "max_coverage_reports_per_commit", "max_coverage_files_per_commit", "max_coverage_lines_per_commit",
                "max_analysis_results_per_commit", "max_analysis_files_per_commit", "max_analysis_bytes_per_commit",
                "max_analysis_names_per_commit")}}
        with Client(app, stage_name="dev") as client:
            caller = Caller(client, project.value, account.value)
            # The small commits: one small report, one small batch.
            caller.post(f"/2.0/coverage/{COMMIT_SMALL}/python?partial=true", coverage_body(0, 2_000))
            caller.post(f"/2.0/commit/{COMMIT_SMALL}/issuesRemoteResults", issues_body(0, 2_000, files=5))
            # The large coverage commit: reports of the largest body up to the commit's byte bound.
            limit = 1_000_000 if quick else settings.max_coverage_bytes_per_commit
            uploads, stored, report = [], 0, 0
            while True:
                body = coverage_body(report + 1, body_bytes)
                if stored + len(body) > limit:
                    break
                if stored + 2 * len(body) > limit:
                    # The last, largest merge: its peak memory is traced.
                    tracemalloc.start()
                    _, seconds = caller.post(f"/2.0/coverage/{COMMIT_LARGE}/python?partial=true", body)
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    # Tracing slows Python several times over: its time is not an upload's.
                    figures["merge"] = {"peak_bytes": peak, "seconds_traced": seconds, "reports": report + 1,
                                        "commit_bytes": stored + len(body), "body_bytes": len(body)}
                else:
                    _, seconds = caller.post(f"/2.0/coverage/{COMMIT_LARGE}/python?partial=true", body)
                    uploads.append(seconds)
                stored += len(body)
                report += 1
            caller.post(f"/2.0/commit/{COMMIT_LARGE}/coverageFinal", b"{}")
            figures["coverage_fill"] = {"reports": report, "bytes": stored, "slowest_s": max(uploads),
                                        "median_s": statistics.median(uploads), "last_s": uploads[-1],
                                        "seconds": uploads}
            # The large analysis commit: batches of the largest body.
            batches = 2 if quick else 20
            batch_seconds = [caller.post(f"/2.0/commit/{COMMIT_LARGE}/issuesRemoteResults",
                                         issues_body(n + 1, body_bytes))[1] for n in range(batches)]
            figures["analysis_fill"] = {"batches": batches, "slowest_s": max(batch_seconds),
                                        "median_s": statistics.median(batch_seconds)}
            figures["read_back"] = {what: read_back_ratio(caller, what, rounds) for what in ("coverage", "analysis")}
            # Every upload route at the largest body it may take, on a fresh commit.
            routes = {
                "POST /2.0/coverage/{commit}/{language}": (f"/2.0/coverage/{COMMIT_BODIES}/python",
                                                           coverage_body(999, body_bytes)),
                "POST .../issuesRemoteResults": (f"/2.0/commit/{COMMIT_BODIES}/issuesRemoteResults",
                                                 issues_body(999, body_bytes)),
                "POST .../metricsRemoteResults": (f"/2.0/commit/{COMMIT_BODIES}/metricsRemoteResults",
                                                  metrics_body(body_bytes)),
                "POST .../duplicationRemoteResults": (f"/2.0/commit/{COMMIT_BODIES}/duplicationRemoteResults",
                                                      duplication_body(body_bytes)),
                "POST .../coverageFinal": (f"/2.0/commit/{COMMIT_BODIES}/coverageFinal", b"{}"),
                "POST .../resultsFinal": (f"/2.0/commit/{COMMIT_BODIES}/resultsFinal", b""),
            }
            from chalicelib.api.v2 import event_bytes

            figures["largest_bodies"] = {
                name: {"seconds": caller.post(path, body)[1], "body_bytes": len(body), "event_bytes": event_bytes(body)}
                for name, (path, body) in routes.items()}
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.quick)
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    main()
