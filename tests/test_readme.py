"""The README's claims: its walkthrough and upload examples run verbatim
against `make run`'s server, and its names, targets and commands exist."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.localserver import LocalServer

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"


def block(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)```", README.read_text(), re.S)
    assert match, f"README has no {marker} block"
    return match.group(1)


def walkthrough() -> str:
    return block("walkthrough")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = LocalServer(tmp_path_factory.mktemp("readme") / "state.json").start()
    yield running
    running.stop()


def run_block(server, text: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LATCHKEY_URL=server.url, API_TOKEN=server.token("account"),
               PROJECT_TOKEN=server.token("project"))
    return subprocess.run(["bash", "-euo", "pipefail", "-c", text], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
@pytest.mark.e2e
def test_readme_walkthrough_works_verbatim(server):
    project_token = server.token("project")
    result = run_block(server, walkthrough())
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


@pytest.mark.slow
@pytest.mark.e2e
def test_readme_upload_examples_work_verbatim_one_answer_a_line(server):
    text = block("uploads")
    result = run_block(server, text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == text.count("curl ")  # each answer on its own line
    uploads = [a for a in answers if "success" in a]
    assert len(uploads) == 10, answers
    assert not [a for a in answers if "error" in a], answers


@pytest.mark.slow
@pytest.mark.e2e
def test_readme_api_table_statuses_are_the_servers(server):
    text = README.read_text()
    assert "**200** bare `ApiToken`" in text and "**201** `{\"data\": ApiToken}`" in text
    headers = {"api-token": server.token("account")}
    account = server.request("POST", "/api/v3/user/tokens", headers=headers, json={"name": "readme-table"})
    assert account.status_code == 200 and "token" in account.json()
    project = server.request("POST", "/api/v3/organizations/gh/demo/repositories/hello/tokens", headers=headers)
    assert project.status_code == 201 and "token" in project.json()["data"]


def test_readme_uses_one_name_per_value():
    text = README.read_text()
    for stale in ("$BASE", "$ACCOUNT_TOKEN", "export ACCOUNT_TOKEN", "$LATCHKEY/", "${LATCHKEY}"):
        assert stale not in text, stale
    for name in ("LATCHKEY_URL", "API_TOKEN", "PROJECT_TOKEN"):
        assert f"export {name}=" in text, name


def test_readme_shows_make_help_right_after_the_two_commands():
    text = README.read_text()
    two = text.index("## Two commands")
    after = text[text.index("```", text.index("```sh", two) + 5) + 3:]
    assert after.lstrip().startswith("Then `make help`")


def test_readme_names_only_real_make_targets_and_manage_commands():
    import manage

    text = README.read_text()
    makefile = (PROJECT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.M))
    for target in set(re.findall(r"`make ([a-z-]+)", text)):
        assert target in targets, target
    for command in set(re.findall(r"manage\.py (?:--aws --stage \w+ )?([a-z][a-z-]+)", text)):
        assert command in manage.cli.commands, command
