"""Console sessions and pending sign-ins, kept in the tokens table.

- `Session`: pk `session#<SHA-256 of the cookie's secret>`; the authorizer's
  one read for a console request. `owner` (`session#user#<id>`) puts a
  user's sessions on the owner index, so disabling the user can end them
  all without a Scan (and they never mix with the user's tokens there).
- `PendingSignIn`: pk `signin#<SHA-256 of the sign-in cookie>`: the `state`,
  `nonce` and PKCE verifier of one authorization request, taken (deleted)
  by the callback exactly once.

Only digests of the cookies' secrets are stored.
"""
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.models.tokens import TABLE, OwnerIndex
from chalicelib.owner_key import OwnerKey


def session_owner(user_id: float) -> str:
    return OwnerKey.user(user_id).sessions


class Session(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)  # session#<digest of the secret>
    owner = UnicodeAttribute()  # session_owner(user id)
    user_id = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()  # the absolute limit
    # The synchroniser token that every state-changing console form carries.
    csrf = UnicodeAttribute()

    owner_index = OwnerIndex()

    KEY_PREFIX = "session#"

    @staticmethod
    def key(digest: str) -> str:
        return f"{Session.KEY_PREFIX}{digest}"

    @staticmethod
    def digest_of(key: str) -> str | None:
        """The digest a session's key holds; None for any other string."""
        return key.removeprefix(Session.KEY_PREFIX) if key.startswith(Session.KEY_PREFIX) else None


class PendingSignIn(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)  # signin#<digest of the cookie>
    state = UnicodeAttribute()
    nonce = UnicodeAttribute()
    verifier = UnicodeAttribute()  # the PKCE code_verifier
    redirect_uri = UnicodeAttribute()
    next_path = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()

    @staticmethod
    def key(digest: str) -> str:
        return f"signin#{digest}"
