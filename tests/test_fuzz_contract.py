"""Contract fuzzing: schemathesis against the real local server (`make run`'s
script on free 127.0.0.1 ports, its state in a temporary file).

Every documented, implemented operation gets positive and negative
(malformed, oversized, unicode, empty) cases, sent four ways: with the
headers schemathesis makes up (hostile tokens), with no token, with the demo
account token, with the demo project token; the valid-token runs also aim
half their cases at the demo repository so bodies reach the services. The
bar for every answer: no 5xx, JSON, a documented status, a body matching
the documented schema (so every failure carries a string `error`).
"""
import functools
import os
import re
import subprocess  # nosec B404 - starts the project's own local server
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from scripts.ports import free_port
from tests.helpers import (
    DOCUMENT,
    PENDING_ROUTES,
    by_shape,
    implemented_routes,
    normalized,
    operation,
    shell_environ,
    tally,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # the local server, minutes of cases

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_PER_RUN = int(os.environ.get("LATCHKEY_FUZZ_EXAMPLES", "10"))
# Without a valid token the authorizer answers before any route parses its
# input, so those runs take fewer cases: the valid-token runs reach the code.
EXAMPLES = {"hostile": max(1, EXAMPLES_PER_RUN // 2), "none": max(1, EXAMPLES_PER_RUN // 4),
            "account": EXAMPLES_PER_RUN, "project": EXAMPLES_PER_RUN}
TOKEN_HEADERS = ("api-token", "api_token", "project-token", "project_token")
DEMO_PATH = {"provider": "gh", "org": "demo", "repo": "hello", "username": "demo", "project": "hello"}


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    """The local stack on free ports; yields (base URL, demo tokens). GitHub's
    secret-scanning keys are served on 127.0.0.1 (no network here): a report
    is then judged by its signature, as deployed, not by an unreachable host."""
    from tests.github_keys import LocalGithubKeys

    keys = LocalGithubKeys().__enter__()
    port, aws_port = free_port(), free_port()
    env = shell_environ(PORT=str(port), LOCAL_AWS_PORT=str(aws_port), LOCAL_IDP_PORT=str(free_port()),
                        GITHUB_SECRET_SCANNING_KEYS_URL=keys.url,
                        LATCHKEY_STATE_FILE=str(tmp_path_factory.mktemp("state") / "state.json"),
                        # the state is thrown away: no saving every 5 s (a full scan under the GIL)
                        LATCHKEY_SAVE_EVERY_SECONDS="3600")
    server = subprocess.Popen(  # nosec B603 - fixed command
        [sys.executable, str(ROOT / "scripts" / "run_local.py")], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail("local server exited:\n" + "".join(lines))
            try:
                if requests.get(base + "/openapi.json", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("local server did not start:\n" + "".join(lines))
        text = "".join(lines)
        tokens = {
            "account": re.search(r"account token \(api-token\):\s+(lka_\w+)", text).group(1),
            "project": re.search(r"project token \(project-token\):\s+(lkp_\w+)", text).group(1),
        }
        yield base, tokens
    finally:
        keys.__exit__(None, None, None)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@functools.cache
def schema():
    """The document loaded by schemathesis once (about 0.5 s a load)."""
    import schemathesis

    return schemathesis.openapi.from_dict(DOCUMENT)


def operations():
    schema_ops = []
    implemented = by_shape(implemented_routes())
    for method, path in sorted((m.upper(), p) for p, ops in DOCUMENT["paths"].items() for m in ops):
        if (method, normalized(path)) in implemented and (method, normalized(path)) not in by_shape(PENDING_ROUTES):
            schema_ops.append(pytest.param(method, path, id=f"{method} {path}"))
    return schema_ops


def check_answer(method, path, case, response):
    where = f"{method} {response.request.url} headers={dict(case.headers or {})}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    responses = operation(method, path)["responses"]
    assert str(response.status_code) in responses, f"{where}: undocumented {response.status_code} {response.text[:300]}"
    documented = responses[str(response.status_code)]
    if "content" not in documented:
        assert not response.content, where
        return
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: lower-case, lists
    assert content_type.startswith("application/json"), where
    body = response.json()
    Draft202012Validator(documented["content"]["application/json"]["schema"]).validate(body)
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str), where


@pytest.mark.parametrize("auth", ["hostile", "none", "account", "project"])
@pytest.mark.parametrize("method,path", operations())
def test_fuzz_operation(local_server, method, path, auth):
    from schemathesis import GenerationMode

    base, tokens = local_server
    operation_ = schema()[path][method]
    names = {p["name"] for p in operation(method, path).get("parameters", []) if p["in"] == "path"}
    strategies = [operation_.as_strategy(mode) for mode in GenerationMode]
    if auth in ("account", "project") and names:
        pinned = {name: DEMO_PATH[name] for name in names if name in DEMO_PATH}
        strategies += [operation_.as_strategy(mode, path_parameters=pinned) for mode in GenerationMode]
    session = requests.Session()
    sent = []

    @settings(max_examples=EXAMPLES[auth], deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies))
    def run(case):
        if auth != "hostile":
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in TOKEN_HEADERS}
            if auth == "account":
                case.headers["api-token"] = tokens["account"]
            elif auth == "project":
                case.headers["project-token"] = tokens["project"]
        response = case.call(base_url=base, session=session, timeout=10)
        sent.append(response.status_code)
        check_answer(method, path, case, response)

    run()
    assert sent, f"no case sent to {method} {path}"
    tally("contract fuzzing: cases sent to the local server", len(sent))

