"""The directory table: users, organizations, repositories and grants.

Items share `pk`/`sk` and are told apart by a discriminator, so one
BatchGetItem fetches everything an access decision needs:

| item | pk | sk |
|---|---|---|
| User | `user#<id>` | `user` |
| Email (unique) | `email#<address>` | `email` |
| Organization | `org#<provider>/<org>` | `org` |
| Repository | `org#<provider>/<org>` | `repo#<name>` |
| Grant | `user#<id>` | `grant#<provider>/<org>[/<repo>]` |
| DeletedRepository | `org#<provider>/<org>` | `deleted#<repository id>` |

A DeletedRepository is written in the transaction that deletes the
repository: it keeps the id that everything of the repository was keyed by
(uploads, audit stream, tokens), so the clean-up can resume after a failure
and the deleted repository's audit trail stays readable by its
organization's admins.

Grants are also indexed by what they grant on (`target-index`), so deleting
a repository can remove its grants without a Scan.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models import index_meta, table_meta
from chalicelib.owner_key import OwnerKey
from chalicelib.repository_ref import RepositoryItem, RepositoryRef
from chalicelib.settings import get_settings


def user_key(user_id: float) -> str:
    """A user's partition (the user and their grants): their owner key."""
    return str(OwnerKey.user(user_id))


def email_key(email: str) -> str:
    return f"email#{email.lower()}"


def org_key(provider: str, org: str) -> str:
    return f"org#{provider}/{org}"


# A repository item's sort key in its organization's partition, by name: not
# an owner key (chalicelib.owner_key), which names a repository by its id.
REPOSITORY_SORT_PREFIX = "repo#"


def repo_sort_key(repo: str) -> str:
    return f"{REPOSITORY_SORT_PREFIX}{repo}"


def repository_item_key(repository: RepositoryRef) -> tuple[str, str]:
    """The (pk, sk) of the directory item of the repository so named."""
    return org_key(repository.provider, repository.org), repo_sort_key(repository.name)


def deleted_sort_key(repository_id: float) -> str:
    return f"deleted#{int(repository_id)}"


def grant_sort_key(target: str) -> str:
    return f"grant#{target}"


class TargetIndex(GlobalSecondaryIndex):
    """Grants by what they grant on, publishers by what trusts them: the
    deletions' and the exchange's queries without a Scan."""

    Meta = index_meta("target-index")

    target = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class DirectoryItem(Model):
    Meta = table_meta(get_settings().directory_table)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    item_type = DiscriminatorAttribute()
    created_at = UTCDateTimeAttribute()
    target = UnicodeAttribute(null=True)  # grants only: "<provider>/<org>[/<repo>]"

    by_target = TargetIndex()


class User(DirectoryItem, discriminator="user"):
    user_id = NumberAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    disabled = BooleanAttribute(default=False)
    is_admin = BooleanAttribute(default=False)


class Email(DirectoryItem, discriminator="email"):
    user_id = NumberAttribute()


class Organization(DirectoryItem, discriminator="org"):
    org_id = NumberAttribute()
    provider = UnicodeAttribute()
    name = UnicodeAttribute()
    personal = BooleanAttribute(default=False, null=True)  # a user's own account, not an organization


class Named:
    """A stored repository's name and id, as one value (its `owner` is its organization)."""

    @property
    def ref(self: RepositoryItem) -> RepositoryRef:
        return RepositoryRef.of(self)

    @property
    def full_name(self: RepositoryItem) -> str:
        return RepositoryRef.of(self).full_name


class Repository(Named, DirectoryItem, discriminator="repo"):
    repository_id = NumberAttribute()
    provider = UnicodeAttribute()
    owner = UnicodeAttribute()
    name = UnicodeAttribute()
    public = BooleanAttribute(default=False, null=True)  # visibility on its provider


class Grant(DirectoryItem, discriminator="grant"):
    user_id = NumberAttribute()
    role = UnicodeAttribute()


class DeletedRepository(Named, DirectoryItem, discriminator="deleted-repo"):
    repository_id = NumberAttribute()
    provider = UnicodeAttribute()
    owner = UnicodeAttribute()
    name = UnicodeAttribute()
    deleted_at = UTCDateTimeAttribute()
    # Set once its grants, tokens and uploads are all gone.
    purged_at = UTCDateTimeAttribute(null=True)


def publisher_sort_key(repo: str, publisher_id: float | None = None) -> str:
    """`publisher#<repo>#<id>`: a repository's trusted publishers share a prefix
    (repository names cannot contain `#`)."""
    return f"publisher#{repo}#" + ("" if publisher_id is None else str(int(publisher_id)))


def trust_target(issuer: str, subject: str) -> str:
    """What a publisher is found by when a CI identity token is exchanged
    (target-index): `trust#<issuer name>#<repository or project id>`."""
    return f"trust#{issuer}#{subject}"


class TrustedPublisher(DirectoryItem, discriminator="publisher"):
    """A CI identity a repository trusts to mint its short-lived project tokens
    (pk: the repository's organization, sk: `publisher_sort_key`, target:
    `trust_target`). GitHub: `subject` is the repositoryId, `owner_id` the
    repositoryOwnerId; GitLab: projectId and namespaceId. Ids, not names."""

    publisher_id = NumberAttribute()
    repository = UnicodeAttribute()  # "<provider>/<org>/<repo>" of latchkey
    repository_id = NumberAttribute()  # latchkey's id of it: a re-created name inherits nothing
    issuer = UnicodeAttribute()  # a name of CI_OIDC_ISSUERS
    kind = UnicodeAttribute()  # "github" | "gitlab"
    subject = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    workflow = UnicodeAttribute(null=True)  # GitHub: ".github/workflows/ci.yml"
    environment = UnicodeAttribute(null=True)  # GitHub
    ref = UnicodeAttribute(null=True)  # GitLab
    created_by = NumberAttribute(null=True)

    @property
    def repository_ref(self) -> RepositoryRef:
        """The repository it was registered on: its name and id."""
        return RepositoryRef.parse(self.repository, int(self.repository_id))
