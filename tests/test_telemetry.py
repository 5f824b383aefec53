"""Structured logs and EMF metrics, as the Lambda functions write them
(chalicelib.telemetry configured as on Lambda, requests through the Chalice
test client, so the authorizer runs as its own function first)."""
import io
import json
import logging

import pytest

from chalicelib import telemetry, token_format, wiring
from chalicelib.token_format import Kind
from chalicelib.wiring import Root


@pytest.fixture
def logs():
    """Every JSON log line written while the test runs."""
    stream = io.StringIO()
    telemetry.configure(stream, metrics=True, function="api")

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    telemetry.reset()


def emf(captured: str) -> list[dict]:
    """The EMF objects among stdout's lines."""
    objects = []
    for line in captured.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            objects.append(json.loads(line))
    return objects


def metric_values(objects, name) -> list[tuple[dict, float]]:
    found = []
    for obj in objects:
        (directive,) = obj["_aws"]["CloudWatchMetrics"]
        if any(m["Name"] == name for m in directive["Metrics"]):
            assert directive["Namespace"] == "Latchkey"
            dimensions = {key: obj[key] for group in directive["Dimensions"] for key in group}
            found.append((dimensions, obj[name]))
    return found


def test_a_500_logs_one_json_line_with_the_request_id_it_answers(api, make, logs, monkeypatch):
    token = make.user().token()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("chalicelib.services.directory.DirectoryService.user", broken)
    status, body = api.get("/api/v3/user", token)
    assert status == 500 and body["error"] == "internal error"
    (line,) = [entry for entry in logs() if entry["level"] == "ERROR"]
    assert line["request_id"] == body["requestId"]
    assert line["function_request_id"]
    assert line["route"] == "GET /api/v3/user"
    assert line["token_kind"] == "account" and line["token_id"].isdigit()
    assert "unhandled error" in line["message"] and "RuntimeError" in line["exception"]
    assert token not in json.dumps(logs())


def test_authorizer_lines_carry_their_ids_and_never_the_token(api, logs):
    bogus = token_format.generate(Kind.ACCOUNT)
    api.get("/api/v3/user", bogus)
    (line,) = [entry for entry in logs() if "token rejected" in entry["message"]]
    assert line["level"] == "INFO"  # INFO is on by default: LOG_LEVEL applied
    assert line["request_id"] and line["function_request_id"] and line["route"] == "GET /api/v3/user"
    assert bogus not in json.dumps(logs())
    assert {"level", "message", "timestamp", "service"} <= set(line)


def test_log_level_is_applied(monkeypatch):
    from chalicelib.settings import get_settings

    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    stream = io.StringIO()
    try:
        telemetry.configure(stream, metrics=False)
        logging.getLogger("chalicelib.authorizer").info("quiet")
        logging.getLogger("chalicelib.authorizer").warning("loud")
    finally:
        telemetry.reset()
        get_settings.cache_clear()
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == ["loud"]


def test_authorizer_decisions_are_counted_by_outcome(api, make, logs, capsys):
    user = make.user()
    token = user.token()
    api.get("/api/v3/user", token)
    api.get("/api/v3/user", "lka_short")
    api.get("/api/v3/user", token_format.generate(Kind.ACCOUNT))
    api.get("/api/v3/user", token, headers={"api_token": token_format.generate(Kind.ACCOUNT)})
    api.get("/api/v3/user")
    make.admin.disable_user(user.email)
    api.get("/api/v3/user", token)
    outcomes = [d["Outcome"] for d, value in metric_values(emf(capsys.readouterr().out), "AuthorizerDecisions")]
    assert outcomes == ["allowed", "malformed", "unknown", "ambiguous", "missing", "disabled"]


def test_expired_tokens_are_counted(api, make, logs, capsys, monkeypatch):
    from datetime import timedelta

    from chalicelib import authorizer
    from chalicelib.clock import utcnow

    token = make.user().token(expires_at=(utcnow() + timedelta(days=1)).isoformat())
    later = authorizer.TokenAuthorizer(Root(clock=lambda: utcnow() + timedelta(days=2)))
    wiring.root().authorizer = later
    assert api.get("/api/v3/user", token)[0] == 401
    (found,) = metric_values(emf(capsys.readouterr().out), "AuthorizerDecisions")
    assert found[0]["Outcome"] == "expired" and found[0]["Service"] == "latchkey-dev" and found[1] == [1.0]


def test_5xx_answers_are_counted(api, make, logs, capsys, monkeypatch):
    token = make.user().token()
    monkeypatch.setattr("chalicelib.services.directory.DirectoryService.user",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    api.get("/api/v3/user", token)
    assert [value for _, value in metric_values(emf(capsys.readouterr().out), "ServerErrors")] == [[1.0]]


def test_uploads_are_counted_by_kind_with_their_bytes(api, make, logs, capsys):
    repo = make.repo()
    token = make.project_token(repo)
    body = json.dumps({"total": 50, "fileReports": [{"filename": "a.py", "total": 50, "coverage": {"1": 1}}]})
    status, _ = api.post("/2.0/coverage/" + "a" * 40 + "/python", token, body=body.encode())
    assert status == 200
    objects = emf(capsys.readouterr().out)
    assert [d["Kind"] for d, _ in metric_values(objects, "Uploads")] == ["coverage"]
    assert [v for _, v in metric_values(objects, "UploadBytes")] == [[float(len(body))]]


def test_nothing_is_emitted_when_not_configured(api, make, capsys):
    api.get("/api/v3/user", make.user().token())
    assert emf(capsys.readouterr().out) == []
