"""`make bench` in miniature (`--quick`): the suite runs end to end and
writes its report. Figures are not asserted (no timing in tests); the exact
call count of a decision is."""
import json
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_bench_quick_run_writes_the_report(tmp_path):
    report, raw = tmp_path / "benchmarks.md", tmp_path / "figures.json"
    subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--output", str(report), "--json", str(raw)],
                   cwd=PROJECT_DIR, check=True, capture_output=True, text=True, timeout=600)
    text = report.read_text()
    for heading in ("## Summary", "## 1. Storage calls", "## 2. Authorizer decision", "## 3. Flat with scale",
                    "## 4. Cold start", "## 5. End to end", "## 6. Keyless CI"):
        assert heading in text
    figures = json.loads(raw.read_text())
    for backend in ("moto", "server"):
        for size in figures[backend]["sizes"].values():
            assert size["decision_calls"] == {"dynamodb.GetItem(latchkey-bench-tokens)": 1}
        first = next(iter(figures[backend]["sizes"].values()))
        assert first["listing_user"]["queries"] == 1 and first["listing_repository"]["queries"] == 1
    e2e = figures["end_to_end"]
    assert set(e2e["get_user"]["statuses"]) == {"200"} and set(e2e["ping"]["statuses"]) == {"200"}
    upload = e2e["coverage_upload"]
    assert upload.get("absent") == "route not present" or set(upload["statuses"]) <= {"200", "201", "204"}
    # the exchange: a Query (publishers trusting the identity), a consistent
    # BatchGetItem (publisher and repository now), the jti claim, the token
    cases = figures["keyless"]["cases"]
    assert cases["minted"]["outcome"] == "201" and sum(cases["minted"]["calls"].values()) == 4
    assert cases["malformed"]["calls"] == {} and cases["invalid-token"]["calls"] == {}
    assert cases["replayed-token"]["outcome"] == "replayed-token"
