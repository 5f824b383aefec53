"""The token format: pure functions, no I/O.

A token is `<prefix><body><checksum>`:

- prefix: `lka_` for account tokens, `lkp_` for project tokens, so the kind
  is visible at a glance and secret scanners can recognise a leaked token;
- body: 27 base62 characters from `secrets` (62**27 > 2**160: 160 bits);
- checksum: CRC32 of prefix and body, as 6 base62 characters, so a mistyped
  or forged string is rejected without any database read.

Only `digest()` of a token is ever stored; `hint()` is what lists show.
"""
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import string

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
BODY_LENGTH = 27
CHECKSUM_LENGTH = 6
PREFIX_LENGTH = 4
TOKEN_LENGTH = PREFIX_LENGTH + BODY_LENGTH + CHECKSUM_LENGTH
_ALPHABET_SET = frozenset(ALPHABET)


class Kind(str, enum.Enum):
    ACCOUNT = "account"
    PROJECT = "project"

    @property
    def prefix(self) -> str:
        return _PREFIXES[self]


_PREFIXES = {Kind.ACCOUNT: "lka_", Kind.PROJECT: "lkp_"}
_KINDS = {prefix: kind for kind, prefix in _PREFIXES.items()}


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def checksum(text: str) -> str:
    """The 6-character base62 CRC32 of `text`."""
    return _base62(binascii.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def generate(kind: Kind) -> str:
    """A new random token of `kind`."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    head = kind.prefix + body
    return head + checksum(head)


def parse(raw: str) -> Kind | None:
    """The kind of a well-formed token, or None for anything else.

    Rejects wrong length, unknown prefix, characters outside base62 and a
    wrong checksum. The checksum is not secret, but it is compared in
    constant time anyway so that no comparison of token material ever
    depends on where the first difference lies.
    """
    if not isinstance(raw, str) or len(raw) != TOKEN_LENGTH:
        return None
    kind = _KINDS.get(raw[:PREFIX_LENGTH])
    rest = raw[PREFIX_LENGTH:]
    if kind is None or not _ALPHABET_SET.issuperset(rest):
        return None
    head, check = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(head), check):
        return None
    return kind


# Anything that starts like a token: a whole one, one cut short or run into
# other text (a hint, `lka_...Ab3x`, is not matched: it holds no secret).
_CANDIDATE = re.compile(r"lk[ap]_[0-9A-Za-z]{8,}")


def redact(text: str) -> str:
    """`text` with anything shaped like a token replaced by `<token>`:
    for paths and other caller-supplied text headed for a log or the
    audit trail (someone will paste a token into a URL)."""
    return _CANDIDATE.sub("<token>", text)


def digest(raw: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up.

    A plain hash is enough: the input carries 160 random bits, so neither a
    salt nor a slow hash adds anything against brute force.
    """
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def hint(raw: str) -> str:
    """What a list shows of a token: its prefix and last 4 characters."""
    return f"{raw[:PREFIX_LENGTH]}...{raw[-4:]}"
