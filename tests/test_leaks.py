"""Leaked tokens die in minutes: GitHub's signed secret-scanning reports
(keys generated here, served on 127.0.0.1), revoke by value, a token
revoking itself, all through one revocation function."""
import hashlib
import json
from datetime import timedelta

import pytest

from bench.calls import count_calls
from chalicelib import token_format
from chalicelib.settings import get_settings
from tests.github_keys import LocalGithubKeys, p256_key, report

GITHUB = "/api/v3/secret-scanning/github"
REVOKE = "/api/v3/credentials/revoke"
REPO = "/api/v3/organizations/gh/acme/repositories/widgets"
TOKENS = get_settings().tokens_table


@pytest.fixture(scope="module")
def github_keys():
    with LocalGithubKeys() as keys:
        yield keys


@pytest.fixture
def leaks(monkeypatch, github_keys, clock, aws, root):
    """The leak endpoints with GitHub's keys from the local key server."""
    from chalicelib.api import leaks as module
    from chalicelib.secret_scanning import GithubKeys

    github_keys.unpublished.clear()
    github_keys.fail = False
    keys = GithubKeys(github_keys.url, clock=clock)
    root.github_keys = keys
    monkeypatch.setattr(module, "revoke_limit", lambda: 1000)
    return keys


def post(client, path, body: bytes, headers=None):
    response = client.http.request("POST", path, headers={"content-type": "application/json", **(headers or {})},
                                   body=body)
    return response.status_code, (json.loads(response.body) if response.body else None)


def alive(api, token) -> bool:
    path = "/api/v3/user" if token.startswith("lka_") else REPO
    return api.get(path, token)[0] == 200


# -- GitHub secret scanning ------------------------------------------------------------

def test_a_signed_report_revokes_live_tokens_at_once(api, client, make, leaks, github_keys):
    make.repo()
    alice = make.user().grant("gh/acme/widgets", "admin")
    account, project = alice.token(), make.project_token()
    unknown = token_format.generate(token_format.Kind.ACCOUNT)
    body = report(account, project, unknown, "ghp_notours")
    status, feedback = post(client, GITHUB, body, github_keys.sign(body))
    assert status == 200
    assert feedback == [
        {"token_hash": hashlib.sha256(t.encode()).hexdigest(), "token_type": "latchkey_token", "label": label}
        for t, label in ((account, "true_positive"), (project, "true_positive"), (unknown, "false_positive"),
                         ("ghp_notours", "false_positive"))]
    assert not alive(api, account) and not alive(api, project)
    # on the trail of each token's owner, naming where it was found
    other = alice.token()
    events = api.get("/api/v3/user/tokens/events", other)[1]["data"]
    revoked = next(e for e in events if e["action"] == "token.revoked")
    assert revoked["actor"] == "github-secret-scanning" and revoked["tokenHint"] == token_format.hint(account)
    assert revoked["reason"] == ("leaked: found by GitHub secret scanning at "
                                 "https://github.com/acme/widgets/blob/abc/ci.env (content)")
    repo_events = api.get(REPO + "/tokens/events", other)[1]["data"]
    assert any(e["action"] == "token.revoked" and e["tokenHint"] == token_format.hint(project) for e in repo_events)
    assert account not in json.dumps(events)


def test_header_names_are_case_insensitive(api, client, make, leaks, github_keys):
    token = make.user().token()
    body = report(token)
    headers = {name.lower(): value for name, value in github_keys.sign(body).items()}
    assert post(client, GITHUB, body, headers)[0] == 200 and not alive(api, token)


def test_an_expired_token_in_a_report_is_removed_but_not_a_true_positive(client, make, leaks, github_keys, clock):
    from chalicelib.models.tokens import Token

    token = make.user().token()
    Token.get(token_format.digest(token)).update(actions=[Token.expires_at.set(clock.now - timedelta(minutes=1))])
    body = report(token)
    status, feedback = post(client, GITHUB, body, github_keys.sign(body))
    assert status == 200 and feedback[0]["label"] == "false_positive"
    from chalicelib.store.tokens import TokenStore

    assert TokenStore(get_settings()).find(token_format.digest(token)) is None


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Github-Public-Key-Identifier": "key-a"}, 401),
    ({"Github-Public-Key-Identifier": "key-a", "Github-Public-Key-Signature": "not base64!"}, 403),
])
def test_a_report_without_a_valid_signature_changes_nothing(api, client, make, leaks, headers, status):
    token = make.user().token()
    got, answer = post(client, GITHUB, report(token), headers)
    assert got == status and "signature" in answer["error"]
    assert alive(api, token)


def test_a_report_signed_by_another_key_or_tampered_changes_nothing(api, client, make, leaks, github_keys):
    token, other = make.user().token(), make.user("bob@example.com").token()
    body = report(token)
    assert post(client, GITHUB, body, github_keys.sign(body, key=p256_key()))[0] == 403
    tampered = report(other)
    assert post(client, GITHUB, tampered, github_keys.sign(body))[0] == 403  # signature of another body
    assert post(client, GITHUB, body + b" ", github_keys.sign(body))[0] == 403  # one byte more
    assert alive(api, token) and alive(api, other)


def test_unknown_key_ids_refetch_at_most_once_a_minute(api, client, make, leaks, github_keys, clock):
    token = make.user().token()
    body = report(token)
    assert post(client, GITHUB, body, github_keys.sign(body, kid="key-a"))[0] == 200
    fetched = github_keys.fetches
    rotated = p256_key()
    github_keys.keys["key-b"] = rotated  # GitHub publishes a new key
    fresh = make.user("carol@example.com").token()
    body = report(fresh)
    for _ in range(3):  # within the minute: no refetch, refused
        assert post(client, GITHUB, body, github_keys.sign(body, kid="key-b"))[0] == 403
    assert github_keys.fetches == fetched
    clock.advance(seconds=61)
    assert post(client, GITHUB, body, github_keys.sign(body, kid="key-b"))[0] == 200
    assert github_keys.fetches == fetched + 1 and not alive(api, fresh)


def test_keys_unreachable_is_503_and_changes_nothing(api, client, make, root, github_keys, aws):
    from chalicelib.secret_scanning import GithubKeys

    github_keys.fail = True
    root.github_keys = GithubKeys(github_keys.url)
    token = make.user().token()
    body = report(token)
    try:
        status, _ = post(client, GITHUB, body, github_keys.sign(body))
    finally:
        github_keys.fail = False
    assert status == 503 and alive(api, token)


def test_a_signed_report_that_is_not_an_array_is_400(client, leaks, github_keys):
    for body in (b'{"token": "x"}', b"[1, 2]", b"nope"):
        assert post(client, GITHUB, body, github_keys.sign(body))[0] == 400


@pytest.mark.slow  # a report of the largest size
def test_a_big_report_is_processed_in_bounded_storage_calls(api, client, make, leaks, github_keys):
    """2,000 entries, 20 of them live tokens: 20 BatchGetItem for the lookups
    (100 a call) and one transaction per live token; garbage costs nothing."""
    live = [make.user().token() for _ in range(1)] + [make.user(f"u{i}@example.com").token() for i in range(19)]
    unknown = [token_format.generate(token_format.Kind.PROJECT) for _ in range(1500)]
    garbage = [f"lkp_{i:033d}" for i in range(480)]
    body = report(*(unknown[:700] + live + unknown[700:] + garbage))
    headers = github_keys.sign(body)
    post(client, GITHUB, report(), github_keys.sign(report()))  # warm the clients up
    with count_calls() as calls:
        status, feedback = post(client, GITHUB, body, headers)
    assert status == 200 and len(feedback) == 2000
    assert sum(1 for f in feedback if f["label"] == "true_positive") == 20
    summary = calls.summary()
    assert summary[f"dynamodb.BatchGetItem({TOKENS})"] == 16  # 1,520 well-formed tokens, 100 a call
    assert sum(n for call, n in summary.items() if call.startswith("dynamodb.TransactWriteItems")) == 20
    assert not any(alive(api, t) for t in live[:3])


# -- revoke by value ------------------------------------------------------------------------

def test_revoke_by_value_answers_202_whatever_existed(api, client, make, leaks):
    token = make.user().token()
    project = make.project_token(make.repo())
    unknown = token_format.generate(token_format.Kind.ACCOUNT)
    for credentials in ([unknown], ["garbage"], [token, project, unknown, "garbage"]):
        status, answer = post(client, REVOKE, json.dumps({"credentials": credentials}).encode())
        assert status == 202 and answer == {
            "success": f"{len(credentials)} credentials received; any live token among them is revoked"}
    assert not alive(api, token) and not alive(api, project)


def test_revoke_by_value_is_audited_with_the_source(api, client, make, leaks):
    alice = make.user()
    token, other = alice.token(), alice.token()
    response = client.http.request("POST", REVOKE, body=json.dumps({"credentials": [token]}).encode(),
                                   headers={"content-type": "application/json", "user-agent": "finder/1.0"})
    assert response.status_code == 202
    event = next(e for e in api.get("/api/v3/user/tokens/events", other)[1]["data"] if e["action"] == "token.revoked")
    assert (event["actor"], event["reason"], event["userAgent"]) == ("anonymous", "revoked by value", "finder/1.0")
    assert event["sourceIp"]


def test_revoke_by_digest(api, client, make, leaks):
    token = make.user().token()
    assert post(client, REVOKE, json.dumps({"credentials": [token_format.digest(token)]}).encode())[0] == 202
    assert not alive(api, token)


@pytest.mark.parametrize("body", [b"", b"[]", b'{"credentials": []}', b'{"credentials": "lka_x"}',
                                  b'{"credentials": [1]}', b'{"tokens": ["x"]}',
                                  json.dumps({"credentials": ["x" * 257]}).encode(),
                                  json.dumps({"credentials": ["lka_x"] * 1001}).encode()])
def test_revoke_by_value_refuses_bad_bodies(client, leaks, body):
    status, answer = post(client, REVOKE, body)
    assert status == 400 and "error" in answer


def test_revoke_by_value_takes_1000(api, client, make, leaks):
    token = make.user().token()
    credentials = [token_format.generate(token_format.Kind.PROJECT) for _ in range(999)] + [token]
    assert post(client, REVOKE, json.dumps({"credentials": credentials}).encode())[0] == 202
    assert not alive(api, token)


def test_revoke_by_value_is_limited_per_source_address(client, make, monkeypatch, leaks):
    from chalicelib.api import leaks as module

    monkeypatch.setattr(module, "revoke_limit", lambda: 3)
    body = json.dumps({"credentials": ["garbage"]}).encode()
    answers = [client.http.request("POST", REVOKE, body=body, headers={"content-type": "application/json"})
               for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert json.loads(answers[-1].body)["error"].startswith("at most 3 revocation requests a minute")
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60


# -- a token revokes itself ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["account", "project"])
def test_a_token_revokes_itself(api, make, kind):
    token = make.user().token() if kind == "account" else make.project_token(make.repo())
    header = "api_token" if kind == "account" else "project_token"  # the legacy spellings too
    assert api.delete("/api/v3/tokens/self", token, header=header)[0] == 204
    assert api.delete("/api/v3/tokens/self", token, header=header) == (404, {"error": "not found"})
    assert not alive(api, token)


def test_self_revocation_is_on_the_trail(api, make):
    alice = make.user()
    token, other = alice.token(), alice.token()
    assert api.delete("/api/v3/tokens/self", token)[0] == 204
    event = next(e for e in api.get("/api/v3/user/tokens/events", other)[1]["data"] if e["action"] == "token.revoked")
    assert event["actor"] == f"user:{alice.user_id}" and event["reason"] == "revoked by itself"
    assert event["tokenHint"] == token_format.hint(token)


def test_every_revocation_path_goes_through_the_one_function(api, client, make, leaks, github_keys, monkeypatch):
    from chalicelib.services.revocation import RevocationService

    seen = []
    original = RevocationService.revoke

    def spy(self, credentials, **kwargs):
        seen.append((kwargs["reason"], kwargs.get("leaked", False)))
        return original(self, credentials, **kwargs)

    monkeypatch.setattr(RevocationService, "revoke", spy)
    body = report(make.user().token())
    post(client, GITHUB, body, github_keys.sign(body))
    post(client, REVOKE, json.dumps({"credentials": [make.user("b@example.com").token()]}).encode())
    api.delete("/api/v3/tokens/self", make.user("c@example.com").token())
    assert seen == [("leaked", True), ("revoked by value", False), ("revoked by itself", False)]


def test_revocation_deletes_in_parallel_on_lambda(monkeypatch):
    """On Lambda several deletes are in flight at once (DynamoDB serves them
    in parallel; moto cannot, so the other tests run them one at a time)."""
    import threading
    import time
    from types import SimpleNamespace

    from chalicelib.services import revocation

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "latchkey-dev")
    assert revocation.default_parallelism() == revocation.MAX_PARALLEL_DELETES
    values = [token_format.generate(token_format.Kind.ACCOUNT) for _ in range(16)]
    stored = {token_format.digest(v): SimpleNamespace(pk=token_format.digest(v), disabled=False, expires_at=None,
                                                      owner="user#1", token_id=i + 1, hint="h", kind="account")
              for i, v in enumerate(values)}
    in_flight, peak, lock = [0], [0], threading.Lock()

    class Store:
        def find_many(self, digests):
            return {d: stored[d] for d in digests if d in stored}

        def delete(self, token, audit_items=()):
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= 1
            return True

    class Audit:
        def token_items(self, *args, **kwargs):
            return []

    results = revocation.RevocationService(tokens=Store(), lifecycle=None, audit=Audit()).revoke(
        values, reason="revoked by value", actor="anonymous")
    assert all(r.live for r in results) and peak[0] > 1


def test_the_keys_url_is_https_outside_dev():
    from chalicelib.settings import SettingsError, from_environ

    assert from_environ({}).github_secret_scanning_keys_url == "https://api.github.com/meta/public_keys/secret_scanning"
    local = "http://127.0.0.1:9/keys"
    assert from_environ({"LATCHKEY_STAGE": "dev", "GITHUB_SECRET_SCANNING_KEYS_URL": local}
                        ).github_secret_scanning_keys_url == local
    for stage in ("prod", ""):
        with pytest.raises(SettingsError, match="GITHUB_SECRET_SCANNING_KEYS_URL"):
            from_environ({"LATCHKEY_STAGE": stage, "GITHUB_SECRET_SCANNING_KEYS_URL": local})
    with pytest.raises(SettingsError, match="REVOKE_REQUESTS_PER_MINUTE"):
        from_environ({"REVOKE_REQUESTS_PER_MINUTE": "0"})


def test_keys_never_fetched_stay_unavailable_until_the_next_try(github_keys):
    """A second report within the refresh interval, with no key ever fetched,
    is 503 again (retry), not 'unknown key': the answer must not depend on
    whether an earlier request already tried (the contract fuzzing saw it flip)."""
    from chalicelib.jwt_verify import KeysUnavailable
    from chalicelib.secret_scanning import GithubKeys

    keys = GithubKeys(github_keys.url)
    github_keys.fail = True
    try:
        for _ in range(2):
            with pytest.raises(KeysUnavailable):
                keys.verify(b"[]", "any-key", "c2lnbmF0dXJl")
    finally:
        github_keys.fail = False
