"""The tokens table.

One table, four kinds of item, all keyed by `pk`:

- `Token`: pk is the SHA-256 digest of the token; the authorizer's one read.
- `TokenId`: pk `id#<id>` points an id (what clients delete by) at a digest,
  and makes ids unique.
- `TokenName`: pk `name#<owner>#<name>` makes names unique per owner.
- `TokenCounter`: pk `count#<owner>` counts an owner's tokens for the limit.

Creating or deleting a token writes all of them in one transaction.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.settings import get_settings

TABLE = get_settings().tokens_table


def user_owner(user_id: float) -> str:
    return f"user#{int(user_id)}"


def repository_owner(full_name: str) -> str:
    return f"repo#{full_name}"


class OwnerIndex(GlobalSecondaryIndex):
    """An owner's tokens, newest last: listing without a Scan."""

    class Meta:
        index_name = "owner-index"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


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
    # Set by write-time fan-out when the owning user is disabled, so the
    # authorizer never needs a second read to know it.
    disabled = BooleanAttribute(default=False)
    # Minted by a trusted publisher from a CI identity token (keyless CI):
    # which publisher, of which configured issuer.
    publisher_id = NumberAttribute(null=True)
    publisher_issuer = UnicodeAttribute(null=True)

    owner_index = OwnerIndex()


class TokenId(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    digest = UnicodeAttribute()

    @staticmethod
    def key(token_id: float) -> str:
        return f"id#{int(token_id)}"


class TokenName(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)

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
