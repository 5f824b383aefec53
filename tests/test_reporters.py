"""Codacy's real coverage reporters against the local server, unchanged.

- Python `codacy-coverage` (PyPI, requirements-dev.txt): reads
  CODACY_API_BASE_URL and CODACY_PROJECT_TOKEN; POSTs
  `/2.0/coverage/{commit}/python` (never partial) with the header
  `project_token` only.
- Node `codacy-coverage` (npm, installed into .node/ by `make test`): takes
  the base URL as `--endpoint` (it does not read CODACY_API_BASE_URL);
  project token → `/2.0/coverage/{commit}/{language}` with `project_token`;
  account token (`-a`, `-u`, `-n`) → the provider-less
  `/2.0/{username}/{project}/commit/{commit}/coverage/{language}` with
  `api_token`. It requires status 200.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
NODE_REPORTER = ROOT / ".node" / "node_modules" / "codacy-coverage" / "bin" / "codacy-coverage.js"

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

LCOV = """TN:
SF:web/app.js
DA:1,1
DA:2,0
DA:3,5
LF:3
LH:2
end_of_record
"""


def read_back(server, commit):
    answer = requests.get(
        f"{server.url}/api/v3/organizations/gh/demo/repositories/hello/commits/{commit}/coverage",
        headers={"api-token": server.account}, timeout=30)
    assert answer.status_code == 200
    return answer.json()["data"]


def test_python_reporter_uploads_with_project_token(local_server, tmp_path):
    pytest.importorskip("codacy.reporter", reason="codacy-coverage (PyPI) is not installed")
    commit = os.urandom(20).hex()
    report = tmp_path / "coverage.xml"
    report.write_text(COBERTURA.format(source=tmp_path))
    env = dict(os.environ, CODACY_API_BASE_URL=local_server.url, CODACY_PROJECT_TOKEN=local_server.project)
    result = subprocess.run([sys.executable, "-m", "codacy", "-r", str(report), "-c", commit, "-d", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Coverage report (python, complete) received" in result.stderr
    data = read_back(local_server, commit)
    assert [(r["language"], r["partial"]) for r in data["reports"]] == [("python", False)]
    assert {f["filename"]: (f["covered"], f["coverable"]) for f in data["files"]} == {
        "src/core.py": (2, 3), "src/cli.py": (1, 2)}
    assert data["final"] is True


def node_reporter():
    if shutil.which("node") is None or not NODE_REPORTER.exists():
        pytest.skip("the Node codacy-coverage reporter is not installed (make test installs it into .node/)")
    return ["node", str(NODE_REPORTER)]


@pytest.mark.parametrize("kind", ["project", "account"])
def test_node_reporter_uploads(local_server, kind):
    command = node_reporter()
    commit = os.urandom(20).hex()
    command += ["-e", local_server.url, "-c", commit, "-l", "javascript"]
    if kind == "project":
        command += ["-t", local_server.project]
    else:
        command += ["-a", local_server.account, "-u", "demo", "-n", "hello"]
    result = subprocess.run(command, input=LCOV, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    data = read_back(local_server, commit)
    assert [(r["language"], r["partial"]) for r in data["reports"]] == [("javascript", False)]
    assert data["files"] == [{"filename": "web/app.js", "covered": 2, "coverable": 3, "percentage": 66.67}]
