"""`make bench` in miniature (`--quick`): the suite runs end to end and
writes its report. Figures are not asserted (no timing in tests); the exact
call count of a decision is."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The whole bench, quick: moto in-process and a moto server, a cold start, HTTP.
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_bench_quick_run_writes_the_report(tmp_path):
    report, raw = tmp_path / "benchmarks.md", tmp_path / "figures.json"
    subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--output", str(report), "--json", str(raw)],
                   cwd=PROJECT_DIR, check=True, capture_output=True, text=True, timeout=600)
    text = report.read_text()
    for heading in ("## Summary", "## 1. Storage calls", "## 2. Authorizer decision", "## 3. Flat with scale",
                    "## 4. Cold start", "## 5. End to end", "## 6. Keyless CI", "## 7. Uploads at the limits"):
        assert heading in text
    figures = json.loads(raw.read_text())
    for backend in ("moto", "server"):
        for size in figures[backend]["sizes"].values():
            assert size["decision_calls"] == {"dynamodb.GetItem(latchkey-bench-tokens)": 1}
        first = next(iter(figures[backend]["sizes"].values()))
        assert first["listing_user"]["queries"] == 1 and first["listing_repository"]["queries"] == 1
    lifecycle = figures["lifecycle"]  # issue 16: one read unless maxUses, which adds one update
    for name in ("plain", "scopes_and_20_cidrs", "rotated_in_grace"):
        assert lifecycle[name]["calls"] == {"dynamodb.GetItem(latchkey-bench-tokens)": 1}
    assert lifecycle["max_uses"]["calls"] == {"dynamodb.GetItem(latchkey-bench-tokens)": 1,
                                              "dynamodb.UpdateItem(latchkey-bench-tokens)": 1}
    assert "## 7. The lifecycle's limits" in text
    e2e = figures["end_to_end"]
    assert set(e2e["get_user"]["statuses"]) == {"200"} and set(e2e["ping"]["statuses"]) == {"200"}
    limits = figures["uploads"]
    assert set(limits["read_back"]) == {"coverage", "analysis"} and limits["merge"]["peak_bytes"] > 0
    assert limits["bounds"]["MAX_UPLOAD_BYTES"] == 6_000_000
    upload = e2e["coverage_upload"]
    assert upload.get("absent") == "route not present" or set(upload["statuses"]) <= {"200", "201", "204"}
    # the exchange: a Query (publishers trusting the identity), a consistent
    # BatchGetItem (publisher and repository now), the jti claim, the token
    cases = figures["keyless"]["cases"]
    assert cases["minted"]["outcome"] == "201" and sum(cases["minted"]["calls"].values()) == 4
    assert cases["malformed"]["calls"] == {} and cases["invalid-token"]["calls"] == {}
    assert cases["replayed-token"]["outcome"] == "replayed-token"
