"""The audit table: who did what with which token, kept for a retention period.

Each event is written once per stream that must show it, so that both reads
(a user's own events, a repository's events) are one Query, newest first:

| item | pk | sk |
|---|---|---|
| event in a user's stream | `user#<id>` | `<time, microseconds, UTC>#<event id>` |
| event in a repository's stream | `repo#<repository id>` | same |

Items expire through DynamoDB TTL (`expires`), `audit_retention_days` after
the event. The token itself is never stored: only its id and hint. Items
are only ever added, each with a condition that it does not exist yet, so
no write through the service can overwrite the trail.
"""
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.owner_key import OwnerKey
from chalicelib.settings import get_settings


def user_stream(user_id: int) -> str:
    return str(OwnerKey.user(user_id))


def repository_stream(repository_id: float) -> str:
    """A repository's stream, by its immutable id: a repository created again
    under an old name starts with an empty trail, and a deleted one's trail
    stays readable by id (`deleted-repositories/{id}/events`)."""
    return str(OwnerKey.repository(repository_id))


class AuditEvent(Model):
    Meta = table_meta(get_settings().audit_table)

    pk = UnicodeAttribute(hash_key=True)  # the stream
    sk = UnicodeAttribute(range_key=True)  # time-ordered, unique
    event_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    # token.created | .deleted | .disabled | .expired | .denied, the
    # lifecycle's .rotated | .reused | .paused | .resumed | .expiring, and
    # configuration.updated
    action = UnicodeAttribute()
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
    # Refused uses are recorded at most once per interval per token and
    # reason: how many refused requests this event stands for (this one and
    # those folded into it since the previous one).
    refused_requests = NumberAttribute(null=True, attr_name="count")
    expires = TTLAttribute()


class RefusalMark(Model):
    """Marks that one interval's refused-use event of a token and reason is
    on the trail (`chalicelib.services.audit.Refusals`): written with the
    event, in one transaction, only if absent, so that several function
    instances record one event per interval. Not in any stream (its `pk`
    starts with `refused#`); DynamoDB TTL removes it after the interval.
    """

    Meta = table_meta(get_settings().audit_table)

    pk = UnicodeAttribute(hash_key=True)  # refused#<digest of token, action, reason, status>
    sk = UnicodeAttribute(range_key=True)  # the interval's number
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
