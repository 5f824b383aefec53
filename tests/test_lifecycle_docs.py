"""docs/lifecycle.md's curl block, run verbatim against `make run`'s server
(real HTTP: the source address is the one the local gateway reports)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"


def block() -> str:
    match = re.search(r"<!-- lifecycle -->\n```sh\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/lifecycle.md has no lifecycle block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.e2e
def test_lifecycle_doc_works_verbatim(local_server):
    env = dict(os.environ, LATCHKEY_URL=local_server.url, API_TOKEN=local_server.token("account"))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block()], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"scopes":["coverage:write"]' in lines[0] and '"token":"lkp_' in lines[0]
    assert lines[1].startswith('{"success"')  # from 127.0.0.1, inside 127.0.0.0/8
    assert "repository:read" in lines[2] and lines[2].startswith('{"error"')
    assert '"disabled":true' in lines[3]
    assert lines[4] == '{"error":"token disabled"}'
    assert '"disabled":false' in lines[5]
    assert '"previous":{' in lines[6] and '"token":"lkp_' in lines[6]
    assert lines[7].startswith('{"success"') and lines[8].startswith('{"success"')
    assert "already rotated" in lines[9]
    assert lines[10] == "200"
    assert lines[11] == '{"error":"not found"}'


@pytest.mark.slow
@pytest.mark.e2e
def test_make_run_sweeps_and_logs_it(local_server):
    # The sweep runs at start, beside the server; its summary (and any
    # expiry notice) is in `make run`'s output.
    import time

    deadline = time.monotonic() + 30
    while "sweep done:" not in local_server.output and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "sweep done:" in local_server.output
