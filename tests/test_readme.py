"""The README's walkthrough, run verbatim against `make run`'s server."""
import os
import re
import subprocess
from pathlib import Path

from tests.localserver import LocalServer

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough() -> str:
    match = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```", README.read_text(), re.S)
    assert match, "README has no walkthrough block"
    return match.group(1)


def test_readme_walkthrough_works_verbatim(tmp_path):
    server = LocalServer(tmp_path / "state.json").start()
    project_token = server.token("project")
    try:
        env = dict(os.environ, LATCHKEY_URL=server.url,
                   API_TOKEN=server.token("account"), PROJECT_TOKEN=project_token)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], env=env,
                                capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"mainEmail":"demo@example.com"' in lines[0]
    assert '"fullPath":"demo/hello"' in lines[1]
    assert '"token":"lka_' in lines[2]
    assert '"mainEmail":"demo@example.com"' in lines[3]
    assert lines[4] == "204"
    assert lines[5] == '{"error":"not found"}'
    assert '"fullPath":"demo/hello"' in lines[6]
    assert '"hint":"lkp_' in lines[7] and project_token not in lines[7]
