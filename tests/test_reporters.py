"""Codacy's real clients against the local server, unchanged, on real output.

A small package lives in a temporary git repository whose files exist on
disk; coverage.py runs it, as a CI job would, and writes its Cobertura XML,
lcov and JSON reports. The reporters then run inside that checkout and find
the commit with git themselves. What coverage.py measured (its JSON report)
is what latchkey must show, under repository-relative names.

- Python `codacy-coverage` 1.3.11 (PyPI, requirements-dev.txt): reads
  CODACY_API_BASE_URL and CODACY_PROJECT_TOKEN; POSTs
  `/2.0/coverage/{commit}/python` (never partial) with the header
  `project_token` only. Its `generate_filename` joins the `<source>` (less
  the git top level) and the class's file name *when that file exists*:
  with `<source>` at the top level, the usual layout, that is `/pkg/core.py`
  (a leading `/`), which latchkey must take as `pkg/core.py`.
- Node `codacy-coverage` (npm, installed into .node/ by `make test`): takes
  the base URL as `--endpoint` (it does not read CODACY_API_BASE_URL); file
  names are `path.relative(process.cwd(), SF)` (lib/impl/lcov.js); project
  token → `/2.0/coverage/{commit}/{language}` with `project_token`; account
  token (`-a`, `-u`, `-n`) → the provider-less
  `/2.0/{username}/{project}/commit/{commit}/coverage/{language}` with
  `api_token`. It requires status 200.
- The Scala analysis CLI cannot run here (a JVM tool): its bodies are built
  as its case classes serialise (tests/upload_bodies.py cites them), nulls
  kept, and sent with its headers (`project-token` and `project_token`, one
  token) and its printer's two-space indentation.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests import upload_bodies as b

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
NODE_REPORTER = ROOT / ".node" / "node_modules" / "codacy-coverage" / "bin" / "codacy-coverage.js"
READ_BACK = "/api/v3/organizations/gh/demo/repositories/hello/commits/{commit}/{what}"

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/core.py": (
        "def add(a, b):\n"
        "    return a + b\n"
        "\n"
        "\n"
        "def sign(x):\n"
        "    if x < 0:\n"
        "        return -1\n"
        "    return 1\n"
    ),
    "pkg/cli.py": (
        "from pkg.core import add, sign\n"
        "\n"
        "\n"
        "def main():\n"
        "    print(add(1, 2), sign(5))\n"
        "\n"
        "\n"
        "def unused():\n"
        "    return 'never called'\n"
        "\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    ),
}
# Variables a CI machine may set that the reporters would read instead of
# asking git or their flags.
CLIENT_VARIABLES = ("CODACY_", "GIT_COMMIT", "TRAVIS_COMMIT", "DRONE_COMMIT", "CIRCLE_SHA1", "CI_COMMIT",
                    "WERCKER_GIT_COMMIT", "BUILDKITE_COMMIT", "BITBUCKET_COMMIT", "COVERAGE_")


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_VARIABLES)}
    env.update(GIT_AUTHOR_NAME="CI", GIT_AUTHOR_EMAIL="ci@example.com",
               GIT_COMMITTER_NAME="CI", GIT_COMMITTER_EMAIL="ci@example.com", **extra)
    return env


def run(command, cwd, env=None, stdin=None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env or clean_env(), input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


class Checkout:
    """A git repository with PACKAGE committed and coverage.py's reports of
    running it; each `new_commit()` is a fresh HEAD to upload to."""

    def __init__(self, top: Path):
        self.top = top
        for name, text in PACKAGE.items():
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            (top / name).write_text(text)
        run(["git", "init", "-q", "."], top)
        run(["git", "add", "pkg"], top)
        run(["git", "commit", "-q", "-m", "a small package"], top)

    def new_commit(self) -> str:
        run(["git", "commit", "-q", "--allow-empty", "-m", "another build"], self.top)
        return run(["git", "rev-parse", "HEAD"], self.top).stdout.strip()

    def measure(self, where: str = ".") -> dict[str, tuple[int, int]]:
        """Run the package under coverage.py from the checkout's directory
        `where` with `--source=.`, so that coverage.xml's `<source>` is that
        directory; write coverage.xml and coverage.lcov there, and answer
        what coverage.py measured: {repository-relative name: (covered,
        coverable)}."""
        cwd = self.top / where
        env = clean_env(PYTHONPATH=str(self.top))
        python = [sys.executable, "-m", "coverage"]
        run(python + ["erase"], cwd, env)
        run(python + ["run", "--source=.", "-m", "pkg.cli"], cwd, env)
        for report in (["xml", "-o", "coverage.xml"], ["lcov", "-o", "coverage.lcov"], ["json", "-o", "coverage.json"]):
            run(python + report, cwd, env)
        measured = json.loads((cwd / "coverage.json").read_text())["files"]
        return {Path(os.path.relpath(cwd / name, self.top)).as_posix():
                (len(f["executed_lines"]), len(f["executed_lines"]) + len(f["missing_lines"]))
                for name, f in measured.items()}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("coverage", reason="coverage.py is not installed (requirements-dev.txt)")
    return Checkout(tmp_path_factory.mktemp("checkout"))


def read_back(server, commit, what="coverage"):
    answer = requests.get(f"{server.url}{READ_BACK.format(commit=commit, what=what)}",
                          headers={"api-token": server.account}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def shown(data) -> dict[str, tuple[int, int]]:
    return {f["filename"]: (f["covered"], f["coverable"]) for f in data["files"]}


@pytest.mark.parametrize("where", [".", "pkg"], ids=["source-at-git-top-level", "source-in-a-subdirectory"])
def test_python_reporter_on_real_coverage_output(local_server, checkout, where):
    pytest.importorskip("codacy.reporter", reason="codacy-coverage (PyPI) is not installed")
    measured = checkout.measure(where)
    assert set(measured) == {"pkg/__init__.py", "pkg/core.py", "pkg/cli.py"}
    cwd = checkout.top / where
    xml = (cwd / "coverage.xml").read_text()
    assert f"<source>{cwd.resolve()}</source>" in xml  # the layout this case is about
    commit = checkout.new_commit()
    env = clean_env(CODACY_API_BASE_URL=local_server.url, CODACY_PROJECT_TOKEN=local_server.project)
    # No -c and no -d: the reporter asks git for the commit and the top level.
    result = run([sys.executable, "-m", "codacy", "-r", "coverage.xml", "-v"], cwd, env=env)
    sent = '"/pkg/core.py"' if where == "." else '"pkg/core.py"'
    assert f'"filename": {sent}' in result.stderr  # what it really sends
    assert "Coverage report (python, complete) received" in result.stderr
    data = read_back(local_server, commit)
    assert [(r["language"], r["partial"]) for r in data["reports"]] == [("python", False)]
    assert shown(data) == measured
    assert data["final"] is True


def node_reporter():
    if shutil.which("node") is None or not NODE_REPORTER.exists():
        pytest.skip("the Node codacy-coverage reporter is not installed (make test installs it into .node/)")
    return ["node", str(NODE_REPORTER)]


@pytest.mark.parametrize("kind", ["project", "account"])
def test_node_reporter_on_real_lcov(local_server, checkout, kind):
    command = node_reporter()
    measured = checkout.measure()
    lcov = (checkout.top / "coverage.lcov").read_text()
    assert "SF:pkg/core.py" in lcov
    commit = checkout.new_commit()
    # No -c: the reporter asks git for the commit.
    command += ["-e", local_server.url, "-l", "python"]
    if kind == "project":
        command += ["-t", local_server.project]
    else:
        command += ["-a", local_server.account, "-u", "demo", "-n", "hello"]
    run(command, checkout.top, stdin=lcov)
    data = read_back(local_server, commit)
    assert [(r["language"], r["partial"]) for r in data["reports"]] == [("python", False)]
    assert shown(data) == measured


def test_analysis_cli_bodies_with_nulls_over_http(local_server, checkout):
    commit = checkout.new_commit()
    token = local_server.project
    headers = {"project-token": token, "project_token": token, "Content-Type": "application/json"}
    base = f"{local_server.url}/2.0/commit/{commit}"
    bodies = {
        "issuesRemoteResults": [b.cli_tool_results("pylint", {
            "pkg/cli.py": [b.cli_issue("pkg/cli.py", 8, pattern="unused-function", category=None),
                           b.cli_issue("pkg/cli.py", 1, pattern="wrong-import", level="Warning",
                                       category="CodeStyle", column=0)]})],
        "metricsRemoteResults": [b.cli_metrics("Python", {"pkg/core.py": {"loc": 8, "complexity": 3},
                                                          "pkg/__init__.py": None})],
        "duplicationRemoteResults": [b.cli_duplication("Python", ["pkg/core.py", "pkg/cli.py"], [])],
    }
    for route, body in bodies.items():
        answer = requests.post(f"{base}/{route}", data=json.dumps(body, indent=2), headers=headers, timeout=30)
        assert answer.status_code == 200 and "success" in answer.json(), answer.text
    answer = requests.post(f"{base}/resultsFinal", headers={"project-token": token, "project_token": token},
                           timeout=30)
    assert answer.status_code == 200, answer.text
    data = read_back(local_server, commit, "analysis")
    assert data["resultsFinal"] is True
    assert data["issues"]["byTool"] == {"pylint": {"issues": 2, "byLevel": {"Info": 1, "Warning": 1},
                                                   "fileErrors": 0}}
    assert data["metrics"]["byLanguage"]["Python"] == {
        "files": 2, "complexity": 3, "loc": 8, "cloc": 0, "nrMethods": 0, "nrClasses": 0}
    assert data["duplication"]["total"]["analysedFiles"] == 2
