"""A repository's analysis configuration: set by a repository admin (API v3,
or the operator with manage.py), read by the Scala analysis CLI at
`GET /2.0/project/analysis/configuration`.

The shape is the CLI's `ProjectConfiguration` (codacy-analysis-cli,
core/src/main/scala/com/codacy/analysis/core/clients/api/Configuration.scala):

    ProjectConfiguration(ignoredPaths: Set[FilePath(value: String)],
                         defaultIgnores: Option[Set[PathRegex(value: String)]],
                         projectExtensions: Set[LanguageExtensions(language: Language, extensions: Set[String])],
                         toolConfiguration: Set[ToolConfiguration(uuid: String, isEnabled: Boolean,
                                                notEdited: Boolean, patterns: Set[ToolPattern(internalId: String,
                                                parameters: Set[ToolParameter(name: String, value: String)])])])

decoded with circe's generic auto-derivation (CodacyClient.scala), where
`Language` decodes through `Languages.fromName` (codacy-plugins-api:
case-insensitive over `Languages.all`) and fails on any other name.
`decodes_as_the_cli_does` below checks an answer against exactly that.
"""
import json

import pytest
from click.testing import CliRunner

from chalicelib import analysis_config
from chalicelib.errors import BadRequest

REPO = "gh/acme/widgets"
PUT = "/api/v3/organizations/gh/acme/repositories/widgets/analysis/configuration"
CONFIG = {
    "ignoredPaths": [{"value": "vendor/"}, "docs/generated/"],
    "defaultIgnores": [{"value": ".*\\.min\\.js"}],
    "projectExtensions": [{"language": "python", "extensions": [".py", ".pyi"]}],
    "toolConfiguration": [
        {"uuid": "34225275-f79e-4b85-8126-c7512c987c0d", "isEnabled": True,
         "patterns": [{"internalId": "PyLintPython3_C0111",
                       "parameters": [{"name": "max-line-length", "value": "120"}]}]},
        {"uuid": "f8b29663-2cb2-498d-b923-a10c6a8c05cd", "isEnabled": False, "notEdited": True, "patterns": None},
    ],
}
STORED = {
    "ignoredPaths": [{"value": "vendor/"}, {"value": "docs/generated/"}],
    "defaultIgnores": [{"value": ".*\\.min\\.js"}],
    "projectExtensions": [{"language": "Python", "extensions": [".py", ".pyi"]}],
    "toolConfiguration": [
        {"uuid": "34225275-f79e-4b85-8126-c7512c987c0d", "isEnabled": True, "notEdited": False,
         "patterns": [{"internalId": "PyLintPython3_C0111",
                       "parameters": [{"name": "max-line-length", "value": "120"}]}]},
        {"uuid": "f8b29663-2cb2-498d-b923-a10c6a8c05cd", "isEnabled": False, "notEdited": True, "patterns": []},
    ],
}


def decodes_as_the_cli_does(answer) -> None:
    """Fail unless circe would decode `answer` as a ProjectConfiguration."""
    def strings(value, *keys):
        assert isinstance(value, dict) and set(keys) <= set(value), value
        for key in keys:
            assert isinstance(value[key], str), (key, value)

    assert isinstance(answer["ignoredPaths"], list)
    for entry in answer["ignoredPaths"]:
        strings(entry, "value")
    if answer.get("defaultIgnores") is not None:
        for entry in answer["defaultIgnores"]:
            strings(entry, "value")
    for entry in answer["projectExtensions"]:
        assert entry["language"].lower() in {name.lower() for name in analysis_config.LANGUAGES}
        assert all(isinstance(e, str) for e in entry["extensions"])
    for tool in answer["toolConfiguration"]:
        strings(tool, "uuid")
        assert isinstance(tool["isEnabled"], bool) and isinstance(tool["notEdited"], bool)
        for pattern in tool["patterns"]:
            strings(pattern, "internalId")
            for parameter in pattern["parameters"]:
                strings(parameter, "name", "value")


# -- validation ------------------------------------------------------------------

def test_validate_stores_the_cli_shape():
    assert analysis_config.validate(CONFIG) == STORED
    decodes_as_the_cli_does(STORED)


def test_validate_null_or_missing_is_empty():
    assert analysis_config.validate({"ignoredPaths": None}) == analysis_config.EMPTY


@pytest.mark.parametrize("body,expected", [
    ([], "body: must be an object"),
    ({"ignored": []}, "body.ignored: unknown field"),
    ({"ignoredPaths": "vendor/"}, "ignoredPaths: must be a list"),
    ({"ignoredPaths": [{"path": "x"}]}, "ignoredPaths[0].path: unknown field"),
    ({"ignoredPaths": [""]}, "ignoredPaths[0]: must be a non-empty string"),
    ({"ignoredPaths": [{"value": 3}]}, "ignoredPaths[0].value: must be a non-empty string"),
    ({"ignoredPaths": ["x" * 1001]}, "ignoredPaths[0]: at most 1000 characters"),
    ({"ignoredPaths": ["x"] * 1001}, "ignoredPaths: at most 1000 entries"),
    ({"projectExtensions": [{"language": "Klingon", "extensions": [".k"]}]},
     "projectExtensions[0].language: not a language the analysis CLI knows: 'Klingon'"),
    ({"projectExtensions": [{"language": "Go", "extensions": []}, {"language": "go", "extensions": []}]},
     "projectExtensions[1].language: Go is listed twice"),
    ({"projectExtensions": [{"language": "Go", "extensions": [1]}]},
     "projectExtensions[0].extensions[0]: must be a non-empty string"),
    ({"toolConfiguration": [{"uuid": "t"}]}, "toolConfiguration[0].isEnabled: must be true or false"),
    ({"toolConfiguration": [{"uuid": "t", "isEnabled": "yes"}]},
     "toolConfiguration[0].isEnabled: must be true or false"),
    ({"toolConfiguration": [{"uuid": "t", "isEnabled": True}, {"uuid": "t", "isEnabled": True}]},
     "toolConfiguration[1].uuid: tool t is listed twice"),
    ({"toolConfiguration": [{"uuid": "t", "isEnabled": True, "patterns": [{"internalId": "p", "parameters": [
        {"name": "n", "value": 120}]}]}]},
     "toolConfiguration[0].patterns[0].parameters[0].value: must be a string"),
])
def test_validate_rejects(body, expected):
    with pytest.raises(BadRequest) as caught:
        analysis_config.validate(body)
    assert caught.value.message == expected


def test_every_cli_language_is_accepted_in_its_own_spelling():
    body = {"projectExtensions": [{"language": name.upper(), "extensions": [".x"]}
                                  for name in analysis_config.LANGUAGES]}
    assert [e["language"] for e in analysis_config.validate(body)["projectExtensions"]] == list(
        analysis_config.LANGUAGES)


# -- over the API ----------------------------------------------------------------

def put(api, token, body):
    return api.call("PUT", PUT, token, body=body)


@pytest.fixture
def people(make):
    make.repo(REPO)
    return {
        "admin": make.user("admin@example.com").grant(REPO, "admin").token(),
        "org_admin": make.user("boss@example.com").grant("gh/acme", "admin").token(),
        "writer": make.user("writer@example.com").grant(REPO, "write").token(),
        "project": make.project_token(REPO),
    }


def test_default_configuration_decodes(api, people):
    status, answer = api.get("/2.0/project/analysis/configuration", people["project"])
    assert (status, answer) == (200, analysis_config.EMPTY)
    decodes_as_the_cli_does(answer)


def test_repository_admin_sets_what_the_cli_reads(api, people):
    status, answer = put(api, people["admin"], CONFIG)
    assert (status, answer) == (200, {"data": STORED})
    for path, token, header in (
        ("/2.0/project/analysis/configuration", people["project"], "project-token"),
        ("/2.0/project/analysis/configuration", people["project"], "project_token"),
        ("/2.0/gh/acme/widgets/analysis/configuration", people["writer"], "api-token"),
    ):
        status, answer = api.get(path, token, header=header)
        assert (status, answer) == (200, STORED)
        decodes_as_the_cli_does(answer)
    for token in (people["project"], people["writer"]):
        assert api.get(PUT, token) == (200, {"data": STORED})  # the v3 read of it
    # A PUT replaces the whole configuration.
    assert put(api, people["org_admin"], {"ignoredPaths": ["build/"]})[0] == 200
    assert api.get("/2.0/project/analysis/configuration", people["project"])[1] == {
        **analysis_config.EMPTY, "ignoredPaths": [{"value": "build/"}]}


def test_setting_it_is_on_record(api, people):
    assert put(api, people["admin"], CONFIG)[0] == 200
    events = api.get("/api/v3/organizations/gh/acme/repositories/widgets/tokens/events", people["admin"])[1]
    latest = events["data"][0]
    assert latest["action"] == "configuration.updated" and latest["outcome"] == "success"
    assert latest["repository"] == REPO and latest["actor"].startswith("user:")
    mine = api.get("/api/v3/user/tokens/events", people["admin"])[1]["data"]
    assert mine[0]["action"] == "configuration.updated"


@pytest.mark.parametrize("who,status", [("writer", 403), ("project", 403)])
def test_only_admins_set_it(api, people, who, status):
    answer = put(api, people[who], CONFIG)
    assert answer[0] == status and isinstance(answer[1]["error"], str)
    assert api.get("/2.0/project/analysis/configuration", people["project"])[1] == analysis_config.EMPTY


def test_bad_configuration_is_400_and_changes_nothing(api, people):
    assert put(api, people["admin"], CONFIG)[0] == 200
    bad = {"projectExtensions": [{"language": "Klingon", "extensions": [".k"]}]}
    assert put(api, people["admin"], bad) == (
        400, {"error": "projectExtensions[0].language: not a language the analysis CLI knows: 'Klingon'"})
    assert put(api, people["admin"], None)[0] == 400
    assert api.get("/2.0/project/analysis/configuration", people["project"])[1] == STORED


def test_configuration_over_256_kb_is_413(api, people):
    raw = json.dumps({"ignoredPaths": ["x" * 900] * 300}).encode()
    assert len(raw) > 256 * 1024
    status, answer = put(api, people["admin"], raw)
    assert (status, answer) == (413, {"error": f"body: larger than {256 * 1024} bytes"})


# -- manage.py -------------------------------------------------------------------

def test_manage_set_analysis_config(aws, make, api, monkeypatch, tmp_path):
    import manage

    monkeypatch.setattr("scripts.stage_env.configure", lambda stage, local: None)
    make.repo(REPO)
    project = make.project_token(REPO)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    result = CliRunner().invoke(manage.cli, ["set-analysis-config", "gh", "acme", "widgets", str(config)])
    assert result.exit_code == 0, result.output
    assert "2 ignored path(s), 1 language extension(s), 2 tool(s)" in result.output
    assert api.get("/2.0/project/analysis/configuration", project) == (200, STORED)
    events = api.get("/api/v3/organizations/gh/acme/repositories/widgets/tokens/events",
                     make.user("boss@example.com").grant("gh/acme", "admin").token())[1]["data"]
    assert (events[0]["action"], events[0]["actor"]) == ("configuration.updated", "operator")

    config.write_text('{"projectExtensions": [{"language": "Klingon"}]}')
    result = CliRunner().invoke(manage.cli, ["set-analysis-config", "gh", "acme", "widgets", str(config)])
    assert result.exit_code == 1 and "not a language the analysis CLI knows" in result.output
    config.write_text("{not json")
    result = CliRunner().invoke(manage.cli, ["set-analysis-config", "gh", "acme", "widgets", str(config)])
    assert result.exit_code == 1 and "not valid JSON" in result.output
    result = CliRunner().invoke(manage.cli, ["set-analysis-config", "gh", "acme", "nope", "-"], input="{}")
    assert result.exit_code == 1 and "no repository gh/acme/nope" in result.output
    assert api.get("/2.0/project/analysis/configuration", project)[1] == STORED
