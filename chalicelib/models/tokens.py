"""The tokens table.

One table, four kinds of item, all keyed by `pk`:

- `Token`: pk is the SHA-256 digest of the token; the authorizer's one read.
- `TokenId`: pk `id#<id>` points an id (what clients delete by) at a digest,
  and makes ids unique.
- `TokenName`: pk `name#<owner>#<name>` makes names unique per owner.

An owner is a user or a repository, by id (`chalicelib.owner_key`): a
repository created again under an old name owns none of its predecessor's
tokens, names or count.
- `TokenCounter`: pk `count#<owner>` counts an owner's tokens for the limit.

Creating or deleting a token writes all of them in one transaction.

An expired token stays listed (marked) but stops counting toward its
owner's limit once it is *retired*: one transaction marks it, takes it out
of the counter and sets `removal_at` (its expiry + 30 days) on the token and
its id and name items, which DynamoDB TTL then removes. Only a retired
token ever carries `removal_at`, so TTL never removes a counted token and
the counter stays exact.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models import index_meta, table_meta
from chalicelib.owner_key import OwnerKey
from chalicelib.settings import get_settings

TABLE = get_settings().tokens_table


def user_owner(user_id: float) -> str:
    return str(OwnerKey.user(user_id))


def repository_owner(repository_id: float) -> str:
    return str(OwnerKey.repository(repository_id))


class OwnerIndex(GlobalSecondaryIndex):
    """An owner's tokens, newest last: listing without a Scan."""

    Meta = index_meta("owner-index")

    owner = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


SWEEP_SHARDS = 16


def sweep_shard(token_id: float) -> str:
    """Which of the sweeper's index partitions a token falls in."""
    return str(int(token_id) % SWEEP_SHARDS)


class ExpiryIndex(GlobalSecondaryIndex):
    """Tokens with an expiry, by expiry: the sweeper's "expires soon" query."""

    Meta = index_meta("expiry-index")

    sweep_shard = UnicodeAttribute(hash_key=True)
    expires_at = UTCDateTimeAttribute(range_key=True)


class ActivityIndex(GlobalSecondaryIndex):
    """Tokens by last activity (their last use, or their creation): the
    sweeper's "unused for N days" query."""

    Meta = index_meta("activity-index")

    sweep_shard = UnicodeAttribute(hash_key=True)
    active_at = UTCDateTimeAttribute(range_key=True)


class Token(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)  # the token's SHA-256 digest
    kind = UnicodeAttribute()  # token_format.Kind value
    owner = UnicodeAttribute()  # user_owner(...) or repository_owner(...)
    token_id = NumberAttribute()
    name = UnicodeAttribute(null=True)
    hint = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = NumberAttribute(null=True)  # user id; metadata only
    expires_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)
    # Project tokens: the repository's "<provider>/<org>/<repo>" when the
    # token was made, so the authorizer's one read names it (the access
    # check compares the live repository's id with the owner's).
    repository = UnicodeAttribute(null=True)
    # Set by write-time fan-out when the owning user is disabled, so the
    # authorizer never needs a second read to know it.
    disabled = BooleanAttribute(default=False)
    # Expired and out of the counter (see the module docstring).
    retired = BooleanAttribute(null=True)
    removal_at = TTLAttribute(null=True)
    # -- the lifecycle (issue 16); absent on tokens that do not use it --
    # Tokens of one lineage (a token and its rotations) share the id of the
    # first one; absent means the token's own id.
    family_id = NumberAttribute(null=True)
    # Set on a rotated-away token: it then works until `expires_at` (the
    # end of its grace period), and any use after that is a reuse.
    rotated_at = UTCDateTimeAttribute(null=True)
    successor_id = NumberAttribute(null=True)
    # Project tokens only: a subset of chalicelib.scopes.SCOPES, space
    # separated; absent means all of them.
    scopes = UnicodeAttribute(null=True)
    allowed_cidrs = ListAttribute(of=UnicodeAttribute, null=True)
    # A use-limited token: `uses` counts authorized requests, by a
    # conditional update in the authorizer that never lets it pass max_uses.
    max_uses = NumberAttribute(null=True)
    uses = NumberAttribute(null=True)
    # Paused by its owner (PATCH {"disabled": true}): 401 until resumed.
    # Not `disabled`, which the write-time fan-out sets for a disabled user.
    paused = BooleanAttribute(null=True)
    # The sweeper's marks: when the "expires in 7 days" notice went out.
    expiry_notified_at = UTCDateTimeAttribute(null=True)
    # The sweeper's index keys: sweep_shard(token_id), and the last use
    # (creation until the first use), written with `last_used_at`.
    sweep_shard = UnicodeAttribute(null=True)
    active_at = UTCDateTimeAttribute(null=True)
    # Minted by a trusted publisher from a CI identity token (keyless CI):
    # which publisher, of which configured issuer.
    publisher_id = NumberAttribute(null=True)
    publisher_issuer = UnicodeAttribute(null=True)

    owner_index = OwnerIndex()
    expiry_index = ExpiryIndex()
    activity_index = ActivityIndex()

    @property
    def family(self) -> int:
        return int(self.family_id if self.family_id is not None else self.token_id)

    @property
    def scope_set(self) -> frozenset[str] | None:
        """The token's scopes, or None when it has all of them."""
        return frozenset(self.scopes.split()) if self.scopes else None


class TokenId(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    digest = UnicodeAttribute()
    removal_at = TTLAttribute(null=True)  # set when its token is retired

    @staticmethod
    def key(token_id: float) -> str:
        return f"id#{int(token_id)}"


class TokenName(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    removal_at = TTLAttribute(null=True)  # set when its token is retired

    @staticmethod
    def key(owner: str, name: str) -> str:
        return f"name#{owner}#{name}"


class TokenCounter(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    # Shadows Model.count() on this class only; nothing here counts by query.
    count = NumberAttribute(default=0)  # type: ignore[assignment]

    @staticmethod
    def key(owner: str) -> str:
        return f"count#{owner}"
