"""Who may do what: every access rule of the service, in one place.

Pure functions over a `Principal` (who the token speaks for) and the
directory facts of one request. Two failures, chosen deliberately:

- `NotFound` when the caller may not even know the thing exists (another
  repository, an organization the user is not in, another user's token);
- `Forbidden` when the caller can see it but not do this to it.
"""
import enum
from dataclasses import dataclass

from chalicelib.errors import Forbidden, NotFound
from chalicelib.repository_ref import RepositoryRef
from chalicelib.token_format import Kind

ORG_ROLES = ("admin", "member")


class Role(enum.IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3


REPO_ROLES = {"read": Role.READ, "write": Role.WRITE, "admin": Role.ADMIN}


class Action(enum.Enum):
    """What a request does to a repository, and the role it takes."""

    READ = Role.READ
    UPLOAD = Role.WRITE
    MANAGE_TOKENS = Role.ADMIN


@dataclass(frozen=True)
class Principal:
    """Who a validated token speaks for; travels in the authorizer context."""

    kind: Kind
    token_id: int
    user_id: int | None = None  # account tokens
    # Project tokens: their repository's name and immutable id (no id for a
    # token from before ids keyed owners: it matches no repository).
    repository: RepositoryRef | None = None
    hint: str | None = None  # the token's hint (prefix...last 4), for the audit trail
    # A project token limited to some scopes: them, space separated
    # (chalicelib.scopes); None when it has every scope.
    scopes: str | None = None

    @property
    def repository_id(self) -> int | None:
        return self.repository.id if self.repository is not None else None

    def to_context(self) -> dict[str, str]:
        # API Gateway passes context values as strings: send strings
        # everywhere so local runs and deployed runs see the same thing.
        context = {"kind": self.kind.value, "tokenId": str(self.token_id)}
        if self.user_id is not None:
            context["userId"] = str(self.user_id)
        if self.repository is not None:
            context["repository"] = str(self.repository)
        if self.repository_id is not None:
            context["repositoryId"] = str(self.repository_id)
        if self.hint is not None:
            context["hint"] = self.hint
        if self.scopes is not None:
            context["scopes"] = self.scopes
        return context

    @classmethod
    def from_context(cls, context: dict) -> "Principal":
        user_id = context.get("userId")
        repository = context.get("repository")
        repository_id = context.get("repositoryId")
        return cls(
            kind=Kind(context["kind"]),
            token_id=int(context["tokenId"]),
            user_id=int(user_id) if user_id else None,
            repository=RepositoryRef.parse(repository, int(repository_id) if repository_id else None)
            if repository else None,
            hint=context.get("hint") or None,
            scopes=context.get("scopes") or None,
        )


# A route every token may call whatever its scopes (a token revoking itself).
ANY_SCOPE = "*"


def check_scope(principal: Principal, scope: str | None) -> None:
    """Refuse a project token limited to scopes that do not include
    `scope` (what the route needs; None: a route no scope opens)."""
    if principal.kind is not Kind.PROJECT or principal.scopes is None or scope == ANY_SCOPE:
        return
    held = principal.scopes.split()
    if scope is None:
        raise Forbidden(f"this route is outside the token's scopes ({', '.join(held)})")
    if scope not in held:
        raise Forbidden(f"this token lacks the scope {scope} (it has {', '.join(held)})")


def effective_role(org_role: str | None, repo_role: str | None) -> Role | None:
    """An account's role on a repository: org admins administer every repository."""
    if org_role == "admin":
        return Role.ADMIN
    return REPO_ROLES.get(repo_role or "")


def require_account(principal: Principal) -> int:
    """The user id of an account token; Forbidden for a project token."""
    if principal.kind is not Kind.ACCOUNT or principal.user_id is None:
        raise Forbidden("this operation needs an account API token (api-token header)")
    return principal.user_id


def check_repository(principal: Principal, repository: RepositoryRef, role: Role | None, action: Action) -> None:
    """Allow `action` on the repository named `repository`, or raise.

    `role` is the account's live role on it (None: no access, or the
    repository does not exist). A project token acts on its own repository
    only, never manages tokens, and does not depend on any person's access.
    """
    if principal.kind is Kind.PROJECT:
        if principal.repository is None or not principal.repository.same_name(repository):
            raise NotFound()
        if action is Action.MANAGE_TOKENS:
            raise Forbidden("project tokens cannot manage tokens; use an account API token")
        return
    if role is None:
        raise NotFound()
    if role < action.value:
        raise Forbidden(
            f"this needs the {action.value.name.lower()} role on the repository; "
            f"you have {role.name.lower()}"
        )


def organization_visible(org_role: str | None, repo_roles: list[str]) -> bool:
    """An account sees an organization it belongs to or holds a repository grant in."""
    return org_role is not None or bool(repo_roles)
