"""Item 4: import time of each Lambda entry, in fresh interpreters.

`python -X importtime` reports every import; the figure is the sum of the
top-level imports made by the entry's code (interpreter startup excluded),
median of several runs, runs of all entries interleaved.
"""
import statistics
import subprocess
import sys
from pathlib import Path

from bench.env import bench_environ

PROJECT_DIR = Path(__file__).resolve().parent.parent
MARK = "latchkey-bench-start"
LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "latchkey-bench"}

# name -> (description, code, extra environment)
ENTRIES = {
    "botocore": ("bare `import botocore.session` (the floor)", "import botocore.session", {}),
    "authorizer": (
        "authorizer Lambda: `import app` + the tokens store its first decision loads",
        "import app; import chalicelib.store.tokens",
        {**LAMBDA, "LATCHKEY_FUNCTION": "authorizer"},
    ),
    "authorizer_with_routes": (
        "the same, were the authorizer to import the routes (before this change)",
        "import app; import chalicelib.store.tokens",
        LAMBDA,
    ),
    "powertools": (
        "AWS Lambda Powertools (Logger, Metrics), which both Lambdas import for their logs and metrics",
        "import aws_lambda_powertools.logging, aws_lambda_powertools.metrics",
        LAMBDA,
    ),
    "api": (
        "API Lambda: `import app` + the services its first request loads",
        "import app; import chalicelib.services.tokens, chalicelib.services.directory",
        LAMBDA,
    ),
}


def _top_level_ms(lines) -> float:
    total = 0
    for line in lines:
        if not line.startswith("import time:"):
            continue
        _, cumulative, name = line.split("|", 2)
        if len(name) - len(name.lstrip()) == 1:  # a top-level import of the entry
            total += int(cumulative)
    return total / 1000


def import_ms(code: str, env: dict) -> tuple[float, float]:
    """(all imports of `code`, those beyond an `import botocore.session` made first)."""
    mark = f"sys.stderr.write({MARK!r} + '\\n')"
    program = f"import sys; {mark}; {code}"
    beyond = f"import sys; import botocore.session; {mark}; {code}"
    results = []
    for source in (program, beyond):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", source], cwd=PROJECT_DIR,
                                env=bench_environ(**env), capture_output=True, text=True, check=True)
        results.append(_top_level_ms(result.stderr.split(MARK + "\n", 1)[1].splitlines()))
    return results[0], results[1]


def measure(runs: int = 9) -> dict:
    samples = {name: ([], []) for name in ENTRIES}
    for _ in range(runs):
        for name, (_, code, env) in ENTRIES.items():
            total, beyond = import_ms(code, env)
            samples[name][0].append(total)
            samples[name][1].append(beyond)
    return {
        name: {"description": ENTRIES[name][0], "median_ms": statistics.median(totals),
               "beyond_botocore_ms": statistics.median(beyond), "runs": runs}
        for name, (totals, beyond) in samples.items()
    }
