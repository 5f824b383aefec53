"""Run `scripts/run_local.py` (what `make run` runs) as a subprocess on free
127.0.0.1 ports, for tests that talk real HTTP."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalServer:
    def __init__(self, state_file: Path):
        self.state_file = state_file
        self.port = free_port()
        self.aws_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = ""
        self.process = None

    def start(self, timeout: float = 60) -> "LocalServer":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOKENS_", "DIRECTORY_"))}
        env.update(PORT=str(self.port), LOCAL_AWS_PORT=str(self.aws_port), LATCHKEY_STATE_FILE=str(self.state_file))
        self.process = subprocess.Popen(
            [sys.executable, "-u", "scripts/run_local.py"], cwd=PROJECT_DIR, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        lines = []
        for line in self.process.stdout:
            lines.append(line)
            if line.startswith("Serving on"):
                break
            if time.monotonic() > deadline:
                break
        self.output = "".join(lines)
        if not self.output.rstrip().splitlines() or "Serving on" not in self.output:
            self.stop()
            raise RuntimeError(f"local server did not start:\n{self.output}")
        return self

    def token(self, kind: str) -> str:
        match = re.search(rf"{kind} token \([a-z-]+\):\s+(\S+)", self.output)
        return match.group(1) if match else None

    def request(self, method, path, **kwargs):
        return requests.request(method, self.url + path, timeout=30, **kwargs)

    def stop(self) -> str:
        """Stop as Ctrl-C does; return what it printed after starting."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                rest, _ = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                rest, _ = self.process.communicate()
            return rest or ""
        return ""
