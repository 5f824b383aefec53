"""Keyless CI end to end, over real HTTP: a test issuer on 127.0.0.1 mints a
GitHub-shaped ID token, CI exchanges it (as docs/keyless-ci.md's curl
does), Codacy's PyPI reporter uploads coverage with the minted token, a
replay of the ID token is refused, and the minted token is dead 15 minutes
later by the test clock.

The service runs in this process (Chalice's local server on a free port,
moto in-process) so that the exchange and the authorizer share the test's
clock; `test_make_run_takes_the_settings_from_its_environment` runs the
real `make run` script against the same kind of issuer."""
import json
import os
import subprocess
import sys
import threading

import pytest
import requests

from scripts.ports import free_port
from tests.github_keys import LocalGithubKeys, report
from tests.helpers import Clock
from tests.keyless_world import GITHUB_OWNER_ID, GITHUB_REPOSITORY_ID, github_claims, install, keyless_settings
from tests.localserver import LocalServer
from tests.oidc_issuer import LocalIssuer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = "/api/v3/organizations/gh/acme/repositories/widgets"
# A small Cobertura report for the exchange's upload (what the reporter sends
# is tested on real coverage.py output in tests/test_reporters.py; here the
# files do not exist on disk, so the reporter sends their names unchanged).
COBERTURA = """<?xml version="1.0" ?>
<coverage line-rate="0.6" version="7.0">
  <sources><source>{source}</source></sources>
  <packages><package name="src" line-rate="0.6"><classes>
    <class filename="src/core.py" line-rate="0.666" name="core.py"><lines>
      <line hits="1" number="1"/><line hits="0" number="2"/><line hits="4" number="3"/>
    </lines></class>
    <class filename="src/cli.py" line-rate="0.5" name="cli.py"><lines>
      <line hits="0" number="1"/><line hits="2" number="7"/>
    </lines></class>
  </classes></package></packages>
</coverage>
"""


@pytest.fixture
def issuer():
    with LocalIssuer() as local:
        yield local


@pytest.fixture
def served(aws):
    """The app on a free 127.0.0.1 port, in this process."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app

    original = app.__class__
    port = free_port()
    server = create_local_server(app, Config.create(chalice_app=app, app_name="latchkey"), "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server.server_close()
        app.__class__ = original


def test_keyless_upload_end_to_end(served, issuer, make, monkeypatch, tmp_path):
    pytest.importorskip("codacy.reporter", reason="codacy-coverage (PyPI) is not installed")
    clock = Clock()
    install(monkeypatch, keyless_settings(issuer.issuer), clock)
    make.repo("gh/acme/widgets")
    admin = {"api-token": make.user("admin@example.com").grant("gh/acme/widgets", "admin").token()}

    # The repository's admin trusts the GitHub repository by its ids.
    answer = requests.post(f"{served}{REPO}/trusted-publishers", headers=admin, timeout=30, json={
        "issuer": "github", "repositoryId": GITHUB_REPOSITORY_ID, "repositoryOwnerId": GITHUB_OWNER_ID,
        "workflow": ".github/workflows/ci.yml"})
    assert answer.status_code == 201, answer.text

    # CI: the job's ID token (audience latchkey), exchanged with no stored secret.
    id_token = issuer.mint(github_claims(), now=clock.now.timestamp())
    exchange = requests.post(f"{served}/api/v3/oidc/token", json={"token": id_token}, timeout=30)
    assert exchange.status_code == 201, exchange.text
    minted = exchange.json()["token"]

    # Codacy's PyPI reporter, unchanged, with the minted token.
    commit = os.urandom(20).hex()
    coverage = tmp_path / "coverage.xml"
    coverage.write_text(COBERTURA.format(source=tmp_path))
    env = dict(os.environ, CODACY_API_BASE_URL=served, CODACY_PROJECT_TOKEN=minted)
    result = subprocess.run([sys.executable, "-m", "codacy", "-r", str(coverage), "-c", commit, "-d", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Coverage report (python, complete) received" in result.stderr
    read_back = requests.get(f"{served}{REPO}/commits/{commit}/coverage", headers=admin, timeout=30).json()["data"]
    assert {f["filename"] for f in read_back["files"]} == {"src/core.py", "src/cli.py"}

    # The minted token says when it dies; the ID token cannot be exchanged twice.
    alive = requests.get(served + REPO, headers={"project-token": minted}, timeout=30)
    assert alive.status_code == 200 and alive.headers["Latchkey-Token-Expiration"].endswith(" UTC")
    replay = requests.post(f"{served}/api/v3/oidc/token", json={"token": id_token}, timeout=30)
    assert (replay.status_code, replay.json()["code"]) == (409, "replayed-token")

    # 15 minutes later it is dead: the reporter's next upload fails.
    clock.advance(minutes=15)
    dead = requests.get(served + REPO, headers={"project-token": minted}, timeout=30)
    assert (dead.status_code, dead.json()) == (401, {"error": "token expired"})
    again = subprocess.run([sys.executable, "-m", "codacy", "-r", str(coverage), "-c", commit, "-d", str(tmp_path)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert "received" not in again.stderr


def test_make_run_takes_the_settings_from_its_environment(issuer, tmp_path, monkeypatch):
    """`make run` with CI_OIDC_ISSUERS and GITHUB_SECRET_SCANNING_KEYS_URL
    set: the real exchange against an issuer on 127.0.0.1, then a signed leak
    report for the minted token, served by GitHub-like keys on 127.0.0.1."""
    with LocalGithubKeys() as keys:
        monkeypatch.setenv("CI_OIDC_ISSUERS", json.dumps({"github": {"issuer": issuer.issuer}}))
        monkeypatch.setenv("GITHUB_SECRET_SCANNING_KEYS_URL", keys.url)
        monkeypatch.setenv("LATCHKEY_SAVE_EVERY_SECONDS", "3600")
        server = LocalServer(tmp_path / "state.json").start()
        try:
            assert f"github={issuer.issuer}" in server.output
            account = {"api-token": server.account}
            answer = server.request("POST", "/api/v3/organizations/gh/demo/repositories/hello/trusted-publishers",
                                    headers=account, json={"issuer": "github", "repositoryId": GITHUB_REPOSITORY_ID,
                                                           "repositoryOwnerId": GITHUB_OWNER_ID})
            assert answer.status_code == 201, answer.text
            exchange = server.request("POST", "/api/v3/oidc/token", json={"token": issuer.mint(github_claims())})
            assert exchange.status_code == 201, exchange.text
            minted = exchange.json()["token"]
            hello = "/api/v3/organizations/gh/demo/repositories/hello"
            assert server.request("GET", hello, headers={"project-token": minted}).status_code == 200
            body = report(minted)
            leak = server.request("POST", "/api/v3/secret-scanning/github", data=body, headers=keys.sign(body))
            assert leak.status_code == 200 and leak.json()[0]["label"] == "true_positive", leak.text
            assert server.request("GET", hello, headers={"project-token": minted}).status_code == 404
        finally:
            server.stop()
