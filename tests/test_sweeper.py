"""The daily sweeper (issue 16): expiry notices once, stale tokens revoked
when STALE_TOKEN_DAYS is set, index queries only, safe to run again after a
failure halfway."""
import dataclasses
import logging
from datetime import datetime, timedelta, timezone

import pytest

from bench.calls import count_calls
from chalicelib.models.audit import AuditEvent, repository_stream, user_stream
from chalicelib.models.tokens import Token
from chalicelib.settings import get_settings
from chalicelib.token_format import digest
from chalicelib.wiring import Root


class Outbox:
    def __init__(self):
        self.sent = []

    def send(self, notice):
        self.sent.append(notice)


@pytest.fixture
def outbox():
    return Outbox()


def sweeper(clock, outbox, **settings):
    return with_settings(clock, notifiers=[outbox], **settings).sweeper


def with_settings(clock, notifiers=None, **settings):
    """A root of `settings` (changed from the environment's), `clock` and `notifiers`."""
    parts = {"notifiers": notifiers} if notifiers is not None else {}
    return Root(settings=dataclasses.replace(get_settings(), **settings), clock=clock, **parts)


def in_days(days):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def events(stream, action):
    return [e for e in AuditEvent.query(stream) if e.action == action]


def test_sweep_notifies_once_seven_days_before_expiry(make, clock, outbox):
    alice = make.user()
    soon = alice.token(name="ci", expires_at=in_days(6))
    alice.token(name="later", expires_at=in_days(30))
    alice.token(name="never")
    report = sweeper(clock, outbox).sweep()
    assert len(report.notified) == 1
    (notice,) = outbox.sent
    assert notice.to == "alice@example.com" and "ci" in notice.subject
    (event,) = events(user_stream(alice.user_id), "token.expiring")
    assert int(event.token_id) == int(Token.get(digest(soon)).token_id)
    # Again, and again a day later: nothing new.
    assert sweeper(clock, outbox).sweep().notified == []
    clock.now += timedelta(days=1)
    assert sweeper(clock, outbox).sweep().notified == []
    assert len(outbox.sent) == 1 and len(events(user_stream(alice.user_id), "token.expiring")) == 1


def test_sweep_notifies_the_creator_of_a_project_token(make, clock, outbox):
    make.repo("gh/acme/widgets")
    make.project_token("gh/acme/widgets", expires_at=in_days(2))
    sweeper(clock, outbox).sweep()
    (notice,) = outbox.sent
    assert notice.to.startswith("owner-") and "gh/acme/widgets" in notice.text
    assert len(events(repository_stream(make.repository_id()), "token.expiring")) == 1


def test_sweep_logs_notices_when_no_sender_is_set(make, clock, caplog):
    make.user().token(expires_at=in_days(1))
    # Chalice's app logger ("latchkey") does not propagate to the root, where
    # caplog listens: listen on the sweeper's own logger.
    logger = logging.getLogger("latchkey.sweeper")
    logger.addHandler(caplog.handler)
    try:
        with_settings(clock, notify_from=None).sweeper.sweep()
    finally:
        logger.removeHandler(caplog.handler)
    assert any("notice to alice@example.com" in record.getMessage() for record in caplog.records)


def test_sweep_sends_through_ses_when_notify_from_is_set(make, clock):
    import boto3

    ses = boto3.client("ses", region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="latchkey@example.com")
    make.user().token(expires_at=in_days(1))
    with_settings(clock, notify_from="latchkey@example.com").sweeper.sweep()
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert [m.destinations["ToAddresses"] for m in sent] == [["alice@example.com"]]
    assert sent[0].source == "latchkey@example.com"


def test_sweep_stale_tokens_off_by_default(make, clock, outbox):
    alice = make.user()
    token = alice.token()
    clock.now += timedelta(days=4000)
    assert sweeper(clock, outbox).sweep().revoked == []
    assert Token.get(digest(token))


def backdate(value, days):
    """A token created `days` ago and never used since (as time would make it)."""
    then = datetime.now(timezone.utc) - timedelta(days=days)
    Token.get(digest(value)).update(actions=[Token.created_at.set(then), Token.active_at.set(then)])


def test_sweep_revokes_tokens_unused_for_stale_token_days(api, make, clock, outbox):
    alice = make.user()
    unused, used, young = alice.token(name="unused"), alice.token(name="used"), alice.token(name="young")
    backdate(unused, 40)
    backdate(used, 40)
    backdate(young, 29)
    assert api.get("/api/v3/user", used)[0] == 200  # a use today
    report = sweeper(clock, outbox, stale_token_days=30).sweep()
    assert len(report.revoked) == 1
    assert api.get("/api/v3/user", unused) == (404, {"error": "not found"})
    assert api.get("/api/v3/user", used)[0] == 200
    assert api.get("/api/v3/user", young)[0] == 200
    deleted = events(user_stream(alice.user_id), "token.deleted")
    assert len(deleted) == 1 and deleted[0].reason == "unused for 30 days"
    assert sweeper(clock, outbox, stale_token_days=30).sweep().revoked == []


def test_sweep_uses_index_queries_never_a_scan(make, clock, outbox):
    alice = make.user()
    for days in (1, 2, 3):
        alice.token(expires_at=in_days(days))
    sweeper(clock, outbox).sweep()  # clients exist before counting
    alice.token(expires_at=in_days(4))
    with count_calls() as calls:
        sweeper(clock, outbox, stale_token_days=30).sweep()
    operations = calls.operations()
    assert "Scan" not in operations
    assert operations["Query"] == 3 * 16  # expired, expiring, stale: two indexes, 16 shards
    assert operations["TransactWriteItems"] == 1  # the one new notice


def test_sweep_resumes_after_a_failure_halfway(make, clock, outbox, monkeypatch):
    from chalicelib.errors import Unavailable
    from chalicelib.store.tokens import TokenLifecycleStore

    alice = make.user()
    for days in range(1, 7):
        alice.token(expires_at=in_days(days))
    real = TokenLifecycleStore.mark_expiry_notified
    calls = {"n": 0}

    def failing_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Unavailable()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TokenLifecycleStore, "mark_expiry_notified", failing_third)
    with pytest.raises(Unavailable):
        sweeper(clock, outbox).sweep()
    assert len(outbox.sent) == 2
    monkeypatch.setattr(TokenLifecycleStore, "mark_expiry_notified", real)
    sweeper(clock, outbox).sweep()
    assert len(outbox.sent) == 6
    assert len(events(user_stream(alice.user_id), "token.expiring")) == 6


def test_manage_sweep_runs_the_same_code(make, monkeypatch):
    from click.testing import CliRunner

    import manage
    from scripts import stage_env

    monkeypatch.setattr(stage_env, "configure", lambda stage, local: None)
    make.user().token(expires_at=in_days(3))
    result = CliRunner().invoke(manage.cli, ["sweep"])
    assert result.exit_code == 0, result.output
    assert "sweep: 1 expiry notice(s), 0 stale token(s) revoked" in result.output


def test_sweep_retires_expired_tokens_nobody_lists(make, clock, outbox):
    """Issue 12's retirement (out of the count, TTL 30 days on) for tokens
    whose owner never lists them: the daily sweep finds them by index."""
    from chalicelib.services.tokens import REMOVE_AFTER_EXPIRY_DAYS
    from chalicelib.store.tokens import TokenStore

    alice = make.user()
    owner = f"user#{alice.user_id}"
    expiring = alice.token(expires_at=in_days(2))
    alice.token()  # no expiry: never retired
    before = TokenStore(get_settings()).count(owner)
    clock.now += timedelta(days=3)
    report = sweeper(clock, outbox).sweep()
    assert report.retired == 1
    stored = Token.get(digest(expiring))
    removal = stored.expires_at + timedelta(days=REMOVE_AFTER_EXPIRY_DAYS)
    assert stored.retired and abs((stored.removal_at - removal).total_seconds()) < 1  # TTL keeps whole seconds
    assert TokenStore(get_settings()).count(owner) == before - 1
    assert sweeper(clock, outbox).sweep().retired == 0  # once
    assert len(events(owner, "token.retired")) == 1
