"""What a caller may see of users, organizations and repositories."""
from dataclasses import dataclass

from chalicelib.access import (
    Action,
    Principal,
    Role,
    check_repository,
    effective_role,
    require_account,
)
from chalicelib.errors import Forbidden, NotFound
from chalicelib.models.directory import Organization, Repository, User
from chalicelib.names import is_name
from chalicelib.repository_ref import PROVIDERS, RepositoryRef
from chalicelib.store.directory import DirectoryStore
from chalicelib.store.pagination import Page, list_page
from chalicelib.token_format import Kind


@dataclass(frozen=True)
class RepositoryAccess:
    repository: Repository
    role: Role | None  # None for a project token


@dataclass(frozen=True)
class Membership:
    organization: Organization
    role: str | None  # "admin" | "member"


class DirectoryService:
    def __init__(self, store: DirectoryStore):
        self.store = store

    def user(self, principal: Principal) -> User:
        """The caller's own user; NotFound if it is gone or disabled."""
        user = self.store.user(require_account(principal))
        if user is None or user.disabled:
            raise NotFound()
        return user

    def repository(self, principal: Principal, named: RepositoryRef, action: Action) -> RepositoryAccess:
        """The live repository `named` names, if `principal` may do `action` on it.

        Raises NotFound when it does not exist or the caller may not know it
        does, Forbidden when the caller's role is too small.
        """
        if not named.is_valid():
            raise NotFound()  # no such name can exist (chalicelib.names): no read
        if principal.kind is Kind.PROJECT:
            check_repository(principal, named, None, action)
            repository = self.store.repository(named)
            # The name resolves to the live repository; the token belongs to
            # it only if the ids agree too (not to a predecessor of that name).
            if repository is None or principal.repository != repository.ref:
                raise NotFound()
            return RepositoryAccess(repository, None)
        snapshot = self.store.snapshot(principal.user_id, named)
        if snapshot.user is None or snapshot.user.disabled:
            raise NotFound()
        role = effective_role(snapshot.org_role, snapshot.repo_role) if snapshot.repository else None
        check_repository(principal, named, role, action)
        if snapshot.repository is None:  # unreachable: no repository, no role
            raise NotFound()
        return RepositoryAccess(snapshot.repository, role)

    def organization_admin(self, principal: Principal, provider: str, org: str) -> Organization:
        """The organization, if `principal` is an account administering it, live.

        NotFound for anyone who is not in it; Forbidden for its members and
        for project tokens of its repositories (they see it, not this).
        """
        if provider not in PROVIDERS:
            raise NotFound()
        if principal.kind is Kind.PROJECT:
            if principal.repository is None or not principal.repository.in_organization(provider, org):
                raise NotFound()
            raise Forbidden("this needs an organization admin's account API token")
        snapshot = self.store.organization_snapshot(principal.user_id, provider, org)
        if snapshot.user is None or snapshot.user.disabled or snapshot.organization is None:
            raise NotFound()
        if snapshot.org_role is None:
            raise NotFound()
        if snapshot.org_role != "admin":
            raise Forbidden("this needs the admin role on the organization")
        return snapshot.organization

    def organizations(self, principal: Principal, *, limit: int, cursor: str | None,
                      provider: str | None = None) -> Page[Membership]:
        """Organizations the caller belongs to or holds a repository grant in
        (of one provider, when `provider` is given)."""
        if provider is not None and provider not in PROVIDERS:
            raise NotFound()
        memberships = self._memberships(principal, provider)
        return list_page(memberships, limit=limit, cursor=cursor, key=lambda m: m.organization.pk)

    def organization(self, principal: Principal, provider: str, org: str) -> Membership:
        """One organization of the caller's (as listed), or NotFound."""
        if provider not in PROVIDERS:
            raise NotFound()
        found = next((m for m in self._memberships(principal, provider) if m.organization.name == org), None)
        if found is None:
            raise NotFound()
        return found

    def _memberships(self, principal: Principal, provider: str | None) -> list[Membership]:
        self.user(principal)
        roles: dict[tuple[str, str], str | None] = {}
        for grant in self.store.grants_of(require_account(principal)):
            grant_provider, org, *repo = grant.target.split("/")
            if provider is not None and grant_provider != provider:
                continue
            if repo:
                roles.setdefault((grant_provider, org), None)
            else:
                roles[(grant_provider, org)] = grant.role
        memberships = [
            Membership(org, roles[(org.provider, org.name)])
            for org in self.store.organizations(sorted(roles))
        ]
        memberships.sort(key=lambda m: (m.organization.provider, m.organization.name))
        return memberships

    def repositories(
        self, principal: Principal, provider: str, org: str, *, limit: int, cursor: str | None,
        search: str | None = None,
    ) -> Page[RepositoryAccess]:
        """Repositories of an organization that the caller can see; `search`
        keeps those whose name contains it (case-insensitive)."""
        if provider not in PROVIDERS or not is_name(org):
            raise NotFound()
        term = (search or "").strip().lower()

        def matches(access: RepositoryAccess) -> bool:
            return term in access.repository.name.lower()

        if principal.kind is Kind.PROJECT:
            if principal.repository is None or not principal.repository.in_organization(provider, org):
                raise NotFound()
            access = self.repository(principal, principal.repository, Action.READ)
            return list_page([a for a in [access] if matches(a)], limit=limit, cursor=cursor,
                             key=lambda a: a.repository.sk)
        snapshot = self.store.organization_snapshot(principal.user_id, provider, org)
        if snapshot.user is None or snapshot.user.disabled or snapshot.organization is None:
            raise NotFound()
        if snapshot.org_role == "admin" and term:
            found = [RepositoryAccess(r, Role.ADMIN) for r in self.store.all_repositories(provider, org)]
            return list_page([a for a in found if matches(a)], limit=limit, cursor=cursor,
                             key=lambda a: a.repository.sk)
        if snapshot.org_role == "admin":
            page = self.store.repositories_page(provider, org, limit=limit, cursor=cursor)
            return Page(
                items=[RepositoryAccess(r, Role.ADMIN) for r in page.items],
                cursor=page.cursor, limit=page.limit, total=page.total,
            )
        roles = self._repository_roles(principal, provider, org)
        if snapshot.org_role is None and not roles:
            raise NotFound()
        visible = [RepositoryAccess(r, roles[r.name]) for r in self.store.repositories(provider, org, list(roles))]
        visible = [a for a in visible if matches(a)]
        visible.sort(key=lambda a: a.repository.sk)
        return list_page(visible, limit=limit, cursor=cursor, key=lambda a: a.repository.sk)

    def _repository_roles(self, principal: Principal, provider: str, org: str) -> dict[str, Role | None]:
        """The caller's roles from repository grants in organization
        `provider/org`, by repository name."""
        roles = {}
        for grant in self.store.grants_of(require_account(principal)):
            granted = RepositoryRef.find(grant.target)  # None: an organization's grant
            if granted is not None and granted.in_organization(provider, org):
                roles[granted.name] = effective_role(None, grant.role)
        return roles
