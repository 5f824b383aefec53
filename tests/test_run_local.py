"""`make run`'s behaviour at the edges a laptop user meets: a busy port, a
non-loopback HOST, a restart, and `manage.py` finding it on its own ports."""
import os
import socket
import subprocess
import sys
import time

import pytest

from scripts import run_local
from scripts.ports import free_port
from tests.helpers import shell_environ
from tests.localserver import PROJECT_DIR, LocalServer


def test_host_warning_only_beyond_loopback():
    assert run_local.host_warning("127.0.0.1") is None and run_local.host_warning("localhost") is None
    for host in ("0.0.0.0", "192.168.1.20", "::"):  # nosec B104 - strings only, nothing binds them
        warning = run_local.host_warning(host)
        assert warning.startswith(f"warning: HOST={host}") and "127.0.0.1" in warning


def test_port_in_use_sees_a_listening_socket():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_local.port_in_use("127.0.0.1", port)
    assert not run_local.port_in_use("127.0.0.1", free_port())


def _run(args, env_extra, timeout=30):
    env = shell_environ(**env_extra)
    return subprocess.run([sys.executable, "scripts/run_local.py", *args], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["PORT", "LOCAL_AWS_PORT"])
def test_busy_port_exits_at_once_with_a_clear_message(tmp_path, which):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"PORT": str(free_port()), "LOCAL_AWS_PORT": str(free_port()), which: str(busy)}
        started = time.monotonic()
        result = _run([], {**ports, "LATCHKEY_STATE_FILE": str(tmp_path / "state.json")})
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"127.0.0.1:{busy} is already in use" in result.stderr
    assert f"make run {which}={busy + 1}" in result.stderr
    assert elapsed < 20  # it never starts a server (generous: a loaded machine imports slowly)
    assert not (tmp_path / "run.json").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_restart_says_how_to_mint_tokens_and_manage_finds_the_running_stack(tmp_path):
    state = tmp_path / "state.json"
    first = LocalServer(state).start()
    first.stop()
    server = LocalServer(state).start()  # new free ports, neither of them the default
    try:
        assert server.token("account") is None
        assert "manage.py issue-token demo@example.com" in server.output
        assert "manage.py issue-project-token gh/demo/hello" in server.output
        record = (tmp_path / "run.json").read_text()
        assert f"127.0.0.1:{server.aws_port}" in record and f"127.0.0.1:{server.port}" in record
        # manage.py with no endpoint settings at all: it reads .local/run.json
        # (here beside the server's own state file).
        env = {k: v for k, v in shell_environ(LATCHKEY_STATE_FILE=str(state)).items() if k != "LOCAL_AWS_PORT"}
        minted = subprocess.run([sys.executable, "manage.py", "issue-token", "demo@example.com"], cwd=PROJECT_DIR,
                                env=env, capture_output=True, text=True, timeout=60)
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        assert server.request("GET", "/api/v3/user", headers={"api-token": token}).status_code == 200
        project = subprocess.run([sys.executable, "manage.py", "issue-project-token", "gh/demo/hello"],
                                 cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
        assert project.returncode == 0, project.stderr
        users = subprocess.run([sys.executable, "manage.py", "list-users"], cwd=PROJECT_DIR, env=env,
                               capture_output=True, text=True, timeout=60)
        assert "demo@example.com" in users.stdout
    finally:
        server.stop()
    assert not (tmp_path / "run.json").exists()  # a stopped stack is not advertised
    # With the stack stopped, the error names the endpoint it tried and why.
    if run_local.port_in_use("127.0.0.1", 4566):
        return  # someone's own `make run` holds the default port: nothing to refuse
    failed = subprocess.run([sys.executable, "manage.py", "list-users"], cwd=PROJECT_DIR,
                            env={**env, "AWS_MAX_ATTEMPTS": "1"}, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "http://127.0.0.1:4566 (the default port (no make run recorded in" in failed.stderr


# -- the Makefile ----------------------------------------------------------------------


def _make(*args, **env):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_make_alone_lists_every_target_one_line_each():
    result = _make()
    assert result.returncode == 0, result.stderr
    makefile = (PROJECT_DIR / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()[1:]
    lines = result.stdout.splitlines()
    for target in phony:
        (line,) = [entry for entry in lines if entry.split()[:2] == ["make", target]]
        assert len(line.split(None, 2)) == 3, line  # a description after the name
    assert _make("help").stdout == result.stdout


def test_first_make_run_installs_only_the_service_and_says_so(tmp_path):
    venv = tmp_path / "venv"
    result = _make("-n", "run", f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    assert "pip install --quiet -r requirements-run.txt" in result.stdout
    assert "requirements-dev.txt" not in result.stdout
    assert "Installing the service and its local AWS endpoint" in result.stdout
    dev_tools = {"pytest", "ruff", "mypy", "bandit", "cfn-lint", "schemathesis", "playwright", "hypothesis"}
    run_requirements = "".join((PROJECT_DIR / n).read_text() for n in ("requirements-run.txt", "requirements.txt"))
    assert not any(tool in run_requirements for tool in dev_tools)
    test = _make("-n", "test", f"VENV={venv}")
    assert "requirements-run.txt" in test.stdout and "pip install --quiet -r requirements-dev.txt" in test.stdout


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-run.txt", "requirements-dev.txt"):
        for line in (PROJECT_DIR / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-r"):
                assert "==" in line, (name, line)


@pytest.mark.slow
@pytest.mark.e2e
def test_host_sets_the_address_the_api_binds(tmp_path):
    server = LocalServer(tmp_path / "state.json", env={"HOST": "localhost"}).start()
    try:
        assert f"Serving on http://localhost:{server.port}" in server.output
        assert "warning: HOST" not in server.output  # loopback by name: no warning
        assert server.request("GET", "/api/v3/user").status_code == 401
    finally:
        server.stop()
