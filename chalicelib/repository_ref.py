"""A repository's name and its immutable id: one value, parsed and printed one way.

A repository is named `<provider>/<org>/<repo>` (`gh/acme/widgets`): that
is how paths, grants, tokens and messages spell it. Its id is latchkey's,
given when the repository is created, and everything of it is keyed by the
id (its tokens, uploads, audit stream); a repository created again under an
old name gets a new id and inherits nothing of its predecessor.

So a `RepositoryRef` carries both. What a path names has no id yet (the
directory resolves it); what the directory returns, or a project token
speaks for, has one. Two refs are equal only if their ids agree too;
`same_name` compares the names alone.

Pure: no settings, no storage, no web framework.
"""
from dataclasses import dataclass, replace
from typing import Protocol

from chalicelib.names import is_name

# The code hosts latchkey serves, as they appear in paths.
PROVIDERS = ("gh", "gl", "bb", "ghe", "gle", "bbe")
SEPARATOR = "/"


class RepositoryItem(Protocol):
    """What a stored repository offers (the directory's `Repository` and
    `DeletedRepository` items): its name's parts and its id."""

    @property
    def provider(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def repository_id(self) -> float: ...


@dataclass(frozen=True)
class RepositoryRef:
    """A repository: `provider/org/name`, and its id when it is known.

    Built from a route's path parameters as they come: whether latchkey can
    hold such a name at all is `is_valid()` (a route answers 404 for one it
    cannot, before any read), not an exception here.
    """

    provider: str
    org: str
    name: str
    id: int | None = None

    def __post_init__(self) -> None:
        if self.id is not None:
            # DynamoDB numbers arrive as Decimal or float: one type, so equal ids compare equal.
            object.__setattr__(self, "id", int(self.id))

    @classmethod
    def parse(cls, text: str, id: int | None = None) -> "RepositoryRef":
        """The repository `text` names (`gh/acme/widgets`), with `id` if given.

        Raises ValueError unless `text` is three non-empty parts.
        """
        parts = text.split(SEPARATOR) if isinstance(text, str) else []
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"repository: expected PROVIDER/ORG/REPO, got {text!r}")
        provider, org, name = parts
        return cls(provider, org, name, id)

    @classmethod
    def of(cls, item: RepositoryItem) -> "RepositoryRef":
        """The ref of a stored repository: its name and its id."""
        return cls(item.provider, item.owner, item.name, int(item.repository_id))

    @property
    def full_name(self) -> str:
        """`provider/org/name`: how paths, grants and tokens spell it."""
        return SEPARATOR.join(self.path)

    @property
    def organization(self) -> str:
        """`provider/org`: the organization's name (an organization grant's target)."""
        return f"{self.provider}{SEPARATOR}{self.org}"

    @property
    def path(self) -> tuple[str, str, str]:
        """(provider, org, name), as a route's path parameters name them."""
        return self.provider, self.org, self.name

    def __str__(self) -> str:
        return self.full_name

    def with_id(self, id: int) -> "RepositoryRef":
        """The same name, resolved to the repository `id`."""
        return replace(self, id=id)

    def same_name(self, other: "RepositoryRef") -> bool:
        """Whether both name the same repository, whatever their ids."""
        return self.path == other.path

    def in_organization(self, provider: str, org: str) -> bool:
        """Whether the repository belongs to organization `provider/org`."""
        return (self.provider, self.org) == (provider, org)

    def is_valid(self) -> bool:
        """Whether latchkey can hold such a repository: a known provider and
        names that pass chalicelib.names. Anything else is known not to exist
        before any read."""
        return self.provider in PROVIDERS and is_name(self.org) and is_name(self.name)
