"""Run `scripts/run_local.py` (what `make run` runs) as a subprocess on free
127.0.0.1 ports with its own state file, for tests that talk real HTTP."""
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from scripts.ports import free_port, interrupt
from tests.helpers import shell_environ

PROJECT_DIR = Path(__file__).resolve().parent.parent


class LocalServer:
    def __init__(self, state_file: Path, env: dict | None = None):
        self.state_file = state_file
        self.extra_env = dict(env or {})  # settings for this server only
        self.port = free_port()
        self.aws_port = free_port()
        self.idp_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.process = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def start(self, timeout: float = 60) -> "LocalServer":
        # The server's own environment, as a new shell would give it: no test
        # AWS settings leak in (it points itself at its embedded endpoint).
        env = shell_environ(PORT=str(self.port), LOCAL_AWS_PORT=str(self.aws_port), LOCAL_IDP_PORT=str(self.idp_port),
                            LATCHKEY_STATE_FILE=str(self.state_file), **self.extra_env)
        self.process = subprocess.Popen(
            [sys.executable, "-u", "scripts/run_local.py"], cwd=PROJECT_DIR, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        # Drain its output for as long as it runs: a full pipe would block it.
        threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        while "Serving on" not in self.output:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local server did not start:\n{self.output}")
            time.sleep(0.1)
        return self

    def token(self, kind: str) -> str | None:
        """The demo token of `kind` ("account" or "project") printed at first start."""
        match = re.search(rf"{kind} token \([a-z-]+\):\s+(\S+)", self.output)
        return match.group(1) if match else None

    @property
    def account(self) -> str | None:
        return self.token("account")

    @property
    def project(self) -> str | None:
        return self.token("project")

    def request(self, method, path, **kwargs):
        return requests.request(method, self.url + path, timeout=30, **kwargs)

    def stop(self) -> None:
        """Stop as Ctrl-C does (it saves its state on the way out)."""
        if self.process:
            interrupt(self.process, timeout=30)
