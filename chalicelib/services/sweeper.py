"""The daily sweep (issue 16): expiry notices, and revoking stale tokens.

Run by the scheduled Lambda function (`app.py`, daily) and by `manage.py
sweep`. It finds its work by index queries of the tokens table, never a
Scan: `expiry-index` (tokens by expiry) and `activity-index` (tokens by last
use, or creation until the first use), each split in `SWEEP_SHARDS`
partitions.

Every step is idempotent, so a sweep that fails halfway is simply run
again (the next day's, or Lambda's retry of the scheduled invocation):

- an expiry notice is a conditional mark on the token written in one
  transaction with its `token.expiring` audit event: a token is marked
  once, whatever runs twice. The notice itself is sent after the mark (at
  most once: a lost notice beats a notice every run);
- revoking a stale token is the ordinary delete, which a second run finds
  already done;
- retiring an expired token (out of its owner's count, removed by DynamoDB
  TTL 30 days later: `TokenService.retire_expired`) is conditional on it
  not being retired yet, so tokens nobody lists are cleaned up too.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from chalicelib.clock import iso, utcnow
from chalicelib.models.tokens import SWEEP_SHARDS, Token
from chalicelib.owner_key import OwnerKey
from chalicelib.request_meta import RequestMeta
from chalicelib.services import audit as audit_events
from chalicelib.services.audit import AuditService
from chalicelib.services.tokens import TokenService
from chalicelib.settings import Settings
from chalicelib.store.directory import DirectoryStore
from chalicelib.store.tokens import TokenLifecycleStore, TokenStore

log = logging.getLogger("latchkey.sweeper")
# Its notices and summary are the point of its log: INFO whatever the
# "latchkey" logger is set to (Chalice sets its app's logger to ERROR).
log.setLevel(logging.INFO)

NOTICE_DAYS = 7
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SWEEPER = RequestMeta(source_ip=None, user_agent="latchkey-sweeper")


@dataclass
class SweepReport:
    notified: list[int] = field(default_factory=list)  # token ids
    revoked: list[int] = field(default_factory=list)
    retired: int = 0  # expired tokens taken out of their owner's count

    def summary(self) -> str:
        return (f"{len(self.notified)} expiry notice(s), {len(self.revoked)} stale token(s) revoked, "
                f"{self.retired} expired token(s) retired")


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    text: str


class LogNotifier:
    """Notices written to the log (`make run`'s output): always, whatever
    else sends them."""

    def send(self, notice: Notice) -> None:
        log.info("notice to %s: %s -- %s", notice.to, notice.subject, notice.text)


class SesNotifier:
    """Notices sent through Amazon SES from NOTIFY_FROM (a verified identity)."""

    def __init__(self, sender: str, client=None):
        self.sender = sender
        self._client = client

    def send(self, notice: Notice) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("ses")
        self._client.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [notice.to]},
            Message={"Subject": {"Data": notice.subject}, "Body": {"Text": {"Data": notice.text}}},
        )


def notifiers(settings: Settings) -> list:
    """Where notices go: the log always, SES too with NOTIFY_FROM."""
    return [LogNotifier()] + ([SesNotifier(settings.notify_from)] if settings.notify_from else [])


class Sweeper:
    def __init__(self, tokens: TokenStore, lifecycle: TokenLifecycleStore, token_service: TokenService,
                 directory: DirectoryStore, audit: AuditService, notifiers: list, settings: Settings, clock=utcnow):
        self.tokens = tokens
        self.lifecycle = lifecycle
        self.token_service = token_service
        self.directory = directory
        self.audit = audit
        self.notifiers = notifiers
        self.settings = settings
        self.clock = clock

    def sweep(self) -> SweepReport:
        now = self.clock()
        report = SweepReport()
        for shard in range(SWEEP_SHARDS):
            self._retire_expired(str(shard), now, report)
            self._notify_expiring(str(shard), now, report)
            if self.settings.stale_token_days:
                self._revoke_stale(str(shard), now, report)
        log.info("sweep done: %s", report.summary())
        return report

    # -- expired tokens ----------------------------------------------------

    def _retire_expired(self, shard: str, now: datetime, report: SweepReport) -> None:
        expired = [token for token in self.lifecycle.expiring(shard, EPOCH, now) if not token.retired]
        if expired:
            report.retired += self.token_service.retire_expired(expired)

    # -- expiry notices ----------------------------------------------------

    def _notify_expiring(self, shard: str, now: datetime, report: SweepReport) -> None:
        for token in self.lifecycle.expiring(shard, now, now + timedelta(days=NOTICE_DAYS)):
            if token.expiry_notified_at is not None or token.rotated_at is not None or token.disabled:
                continue  # told already; a rotated-away token's end is its grace period
            if token.expires_at is None:  # not in this index; for the type checker
                continue
            items = self.audit.token_items(audit_events.EXPIRING, token, principal=None, meta=SWEEPER,
                                           reason=f"expires at {iso(token.expires_at)}")
            if not self.lifecycle.mark_expiry_notified(token, now, items):
                continue  # another sweep got there first
            report.notified.append(int(token.token_id))
            self._send(token)

    def _send(self, token: Token) -> None:
        expires_at = token.expires_at or self.clock()
        recipient = self._recipient(token)
        if recipient is None:
            log.info("expiry notice for token %s: nobody to tell", int(token.token_id))
            return
        kind = "project" if token.kind == "project" else "account"
        where = f" of {token.repository or OwnerKey.parse(token.owner).id}" if kind == "project" else ""
        notice = Notice(
            to=recipient,
            subject=f"latchkey: your {kind} token {token.name or token.hint} expires on {iso(expires_at)[:10]}",
            text=(f"The {kind} API token {token.hint} (id {int(token.token_id)}, name {token.name or '-'}){where} "
                  f"expires at {iso(expires_at)}. Rotate it (POST .../tokens/{int(token.token_id)}/rotate) "
                  "or create a new one before then, or CI using it will stop working."),
        )
        for notifier in self.notifiers:
            try:
                notifier.send(notice)
            except Exception as error:  # noqa: BLE001 - one notice must not stop the sweep
                log.warning("notice for token %s not sent: %s", int(token.token_id), type(error).__name__)

    def _recipient(self, token: Token) -> str | None:
        """The owner's address: the user of an account token, the creator of
        a project token (still enabled)."""
        owner = OwnerKey.find(token.owner)  # None: a name-keyed repository owner of old
        user_id = owner.id if owner is not None and owner.is_user else token.created_by
        if user_id is None:
            return None
        user = self.directory.user(int(user_id))
        return user.email if user is not None and not user.disabled else None

    # -- stale tokens ------------------------------------------------------

    def _revoke_stale(self, shard: str, now: datetime, report: SweepReport) -> None:
        days = self.settings.stale_token_days
        for token in self.lifecycle.inactive_since(shard, now - timedelta(days=days)):
            if token.rotated_at is not None:
                continue  # kept for reuse detection; it works for nobody
            items = self.audit.token_items(audit_events.DELETED, token, principal=None, meta=SWEEPER,
                                           reason=f"unused for {days} days")
            if self.tokens.delete(token, audit_items=items):
                report.revoked.append(int(token.token_id))
