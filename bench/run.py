"""`make bench`: run every measurement and write docs/benchmarks.md.

    python -m bench.run [--quick] [--output docs/benchmarks.md]

`--quick` (the smoke run in `make test`) uses tiny sizes and few rounds:
it proves the suite works, its figures mean nothing.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import cold_start, load
from bench.env import bench_environ
from bench.report import render

PROJECT_DIR = Path(__file__).resolve().parent.parent

FULL = {"sizes": [1_000, 100_000], "rounds": 1000, "listing_rounds": 20, "imports": 9, "clients": 4, "seconds": 8.0,
        "exchanges": 200}
QUICK = {"sizes": [200, 400], "rounds": 30, "listing_rounds": 2, "imports": 1, "clients": 2, "seconds": 0.5,
         "exchanges": 3}


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def authorizer(backend: str, plan: dict) -> dict:
    command = [sys.executable, "-m", "bench.authorizer_bench", backend, *map(str, plan["sizes"]),
               "--rounds", str(plan["rounds"]), "--listing-rounds", str(plan["listing_rounds"])]
    result = subprocess.run(command, cwd=PROJECT_DIR, env=bench_environ(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def keyless(plan: dict) -> dict:
    command = [sys.executable, "-m", "bench.keyless_bench", str(plan["exchanges"])]
    result = subprocess.run(command, cwd=PROJECT_DIR, env=bench_environ(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(PROJECT_DIR / "docs" / "benchmarks.md"))
    parser.add_argument("--json", help="also write the raw figures here")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    began = time.monotonic()
    figures = {"machine": machine(), "plan": plan, "quick": args.quick,
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    steps = [
        ("cold_start", lambda: cold_start.measure(plan["imports"])),
        ("moto", lambda: authorizer("moto", plan)),
        ("server", lambda: authorizer("server", plan)),
        ("end_to_end", lambda: load.measure(plan["clients"], plan["seconds"])),
        ("keyless", lambda: keyless(plan)),
    ]
    for name, step in steps:
        start = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        figures[name] = step()
        print(f"bench: {name} done in {time.monotonic() - start:.0f} s", flush=True)
    figures["seconds"] = time.monotonic() - began
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(f"bench: wrote {output} in {figures['seconds']:.0f} s")


if __name__ == "__main__":
    main()
