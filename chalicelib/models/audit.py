"""The audit table: who did what with which token, kept for a retention period.

Each event is written once per stream that must show it, so that both reads
(a user's own events, a repository's events) are one Query, newest first:

| item | pk | sk |
|---|---|---|
| event in a user's stream | `user#<id>` | `<time, microseconds, UTC>#<event id>` |
| event in a repository's stream | `repo#<provider>/<org>/<repo>` | same |

Items expire through DynamoDB TTL (`expires`), `audit_retention_days` after
the event. The token itself is never stored: only its id and hint.
"""
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.settings import get_settings


def user_stream(user_id: int) -> str:
    return f"user#{user_id}"


def repository_stream(full_name: str) -> str:
    return f"repo#{full_name}"


class AuditEvent(Model):
    Meta = table_meta(get_settings().audit_table)

    pk = UnicodeAttribute(hash_key=True)  # the stream
    sk = UnicodeAttribute(range_key=True)  # time-ordered, unique
    event_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    action = UnicodeAttribute()  # token.created | token.deleted | token.disabled | token.expired | token.denied
    outcome = UnicodeAttribute()  # success | denied
    actor = UnicodeAttribute()  # "user:<id>" | "project-token:<id>" | "operator"
    actor_user_id = NumberAttribute(null=True)
    token_id = NumberAttribute(null=True)  # the token acted on (or used)
    token_hint = UnicodeAttribute(null=True)
    token_kind = UnicodeAttribute(null=True)
    repository = UnicodeAttribute(null=True)  # "<provider>/<org>/<repo>" when one is involved
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    request = UnicodeAttribute(null=True)  # "METHOD /path" of a denied use
    status = NumberAttribute(null=True)  # the HTTP status a denied use got
    reason = UnicodeAttribute(null=True)
    expires = TTLAttribute()


class Claim(Model):
    """A short-lived record in the audit table, gone through the same TTL:

    - `jti#<issuer>#<sha256 of jti>` / `jti`: a CI identity token already
      exchanged (written once, conditionally; expires with the token);
    - `rate#<what>#<source ip>` / `<minute>`: requests counted per minute.
    """

    Meta = table_meta(get_settings().audit_table)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    hits = NumberAttribute(null=True)  # rate counters
    expires = TTLAttribute()
