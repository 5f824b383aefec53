"""Owners and streams: whose a thing is, in the one spelling every table keys it by.

An owner key is `user#<user id>` or `repo#<repository id>`: the
repository's immutable id, never its name, so a repository created again
under an old name owns nothing of its predecessor. The same string is

- a token's owner (the tokens table: `Token.owner`, and inside the keys of
  its name and its owner's counter);
- an audit stream (the audit table's pk): a token's events are in its
  owner's stream;
- a repository's uploads partition (the uploads table's pk);
- a user's partition in the directory table (the user and their grants);
- with `session#` before it, the owner of a user's console sessions on the
  tokens table's owner index (`session#user#<id>`), so they never mix with
  the user's tokens there.

This module builds and parses them; nothing else spells them. Pure: no
settings, no storage.
"""
import enum
from dataclasses import dataclass

SEPARATOR = "#"
SESSIONS = "session"


class OwnerKind(str, enum.Enum):
    """What owns: a user, or a repository (the stored prefixes)."""

    USER = "user"
    REPOSITORY = "repo"


@dataclass(frozen=True)
class OwnerKey:
    """`kind#id`: a user or a repository, by its immutable id."""

    kind: OwnerKind
    id: int

    @classmethod
    def user(cls, user_id: float) -> "OwnerKey":
        return cls(OwnerKind.USER, int(user_id))

    @classmethod
    def repository(cls, repository_id: float) -> "OwnerKey":
        return cls(OwnerKind.REPOSITORY, int(repository_id))

    @classmethod
    def parse(cls, text: str) -> "OwnerKey":
        """The owner `text` spells (`user#5`, `repo#7`).

        Raises ValueError for anything else, a repository owner from before
        ids keyed owners (`repo#<name>`) included.
        """
        found = cls.find(text)
        if found is None:
            raise ValueError(f"owner: expected user#<id> or repo#<id>, got {text!r}")
        return found

    @classmethod
    def find(cls, text: str) -> "OwnerKey | None":
        """The owner `text` spells, or None when it spells none (a
        repository owner from before ids keyed owners: `repo#<name>`)."""
        prefix, separator, rest = text.partition(SEPARATOR) if isinstance(text, str) else ("", "", "")
        kinds = {kind.value: kind for kind in OwnerKind}
        if not separator or prefix not in kinds or not (rest.isascii() and rest.isdigit()):
            return None
        return cls(kinds[prefix], int(rest))

    def __str__(self) -> str:
        return f"{self.kind.value}{SEPARATOR}{self.id}"

    @property
    def is_user(self) -> bool:
        return self.kind is OwnerKind.USER

    @property
    def is_repository(self) -> bool:
        return self.kind is OwnerKind.REPOSITORY

    @property
    def sessions(self) -> str:
        """`session#user#<id>`: the owner of this user's console sessions
        on the tokens table's owner index."""
        if not self.is_user:
            raise ValueError(f"only a user has console sessions, not {self}")
        return f"{SESSIONS}{SEPARATOR}{self}"
