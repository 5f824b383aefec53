"""Reads and writes of the directory table (users, orgs, repositories, grants)."""
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict
from chalicelib.models.directory import (
    REPOSITORY_SORT_PREFIX,
    DeletedRepository,
    DirectoryItem,
    Email,
    Grant,
    Organization,
    Repository,
    User,
    deleted_sort_key,
    email_key,
    grant_sort_key,
    org_key,
    repo_sort_key,
    user_key,
)
from chalicelib.repository_ref import RepositoryRef
from chalicelib.store import cancellation_codes, dependency_errors, is_condition_failure
from chalicelib.store.pagination import Page, query_page

MAX_ID = 2**53 - 1


@dataclass(frozen=True)
class Snapshot:
    """What one access decision on a repository needs, read in one call."""

    user: User | None
    organization: Organization | None
    repository: Repository | None
    org_role: str | None
    repo_role: str | None


class DirectoryStore:
    # -- reads -------------------------------------------------------------

    def user(self, user_id: int) -> User | None:
        return self._get(User, user_key(user_id), "user")

    def user_by_email(self, email: str) -> User | None:
        pointer = self._get(Email, email_key(email), "email")
        return self.user(pointer.user_id) if pointer else None

    def organization(self, provider: str, org: str) -> Organization | None:
        return self._get(Organization, org_key(provider, org), "org")

    def repository(self, repository: RepositoryRef) -> Repository | None:
        """The live repository of that name (whatever `repository.id` says)."""
        return self._get(Repository, org_key(repository.provider, repository.org), repo_sort_key(repository.name))

    def snapshot(self, user_id: int | None, repository: RepositoryRef) -> Snapshot:
        """User, organization, repository and the user's grants on them: one BatchGetItem."""
        return self._snapshot(user_id, *repository.path)

    def organization_snapshot(self, user_id: int | None, provider: str, org: str) -> Snapshot:
        """User, organization and the user's grant on it: one BatchGetItem."""
        return self._snapshot(user_id, provider, org, None)

    def _snapshot(self, user_id: int | None, provider: str, org: str, repo: str | None) -> Snapshot:
        keys = [(org_key(provider, org), "org")]
        if repo is not None:
            keys.append((org_key(provider, org), repo_sort_key(repo)))
        if user_id is not None:
            keys.append((user_key(user_id), "user"))
            keys.append((user_key(user_id), grant_sort_key(f"{provider}/{org}")))
            if repo is not None:
                keys.append((user_key(user_id), grant_sort_key(f"{provider}/{org}/{repo}")))
        with dependency_errors():
            # Each item comes back as its discriminated subclass (User, Grant, ...).
            items: dict[tuple[str, str], Any] = {
                (item.pk, item.sk): item for item in DirectoryItem.batch_get(keys, consistent_read=True)
            }
        user = user_key(user_id) if user_id is not None else None
        org_grant = items.get((user, grant_sort_key(f"{provider}/{org}"))) if user else None
        repo_grant = items.get((user, grant_sort_key(f"{provider}/{org}/{repo}"))) if user else None
        return Snapshot(
            user=items.get((user, "user")) if user else None,
            organization=items.get((org_key(provider, org), "org")),
            repository=items.get((org_key(provider, org), repo_sort_key(repo))) if repo else None,
            org_role=org_grant.role if org_grant else None,
            repo_role=repo_grant.role if repo_grant else None,
        )

    def grants_of(self, user_id: int) -> list[Grant]:
        """Every grant a user holds, in target order (one Query; users hold few)."""
        with dependency_errors():
            return list(
                Grant.query(user_key(user_id), Grant.sk.startswith("grant#"), consistent_read=True)
            )

    def organizations(self, keys: list[tuple[str, str]]) -> list[Organization]:
        with dependency_errors():
            return list(Organization.batch_get([(org_key(p, o), "org") for p, o in keys]))

    def repositories_page(self, provider: str, org: str, *, limit: int, cursor: str | None) -> Page[Repository]:
        with dependency_errors():
            condition = Repository.sk.startswith(REPOSITORY_SORT_PREFIX)
            total = Repository.count(org_key(provider, org), condition)
            return query_page(
                lambda **kwargs: Repository.query(org_key(provider, org), condition, **kwargs),
                limit=limit,
                cursor=cursor,
                key_names=["pk", "sk"],
                total=total,
            )

    def all_repositories(self, provider: str, org: str) -> list[Repository]:
        """Every repository of an organization, in name order (one Query, paged
        by DynamoDB): for a search, which filters by a part of the name."""
        with dependency_errors():
            return list(Repository.query(org_key(provider, org), Repository.sk.startswith(REPOSITORY_SORT_PREFIX)))

    def repositories(self, provider: str, org: str, names: list[str]) -> list[Repository]:
        if not names:
            return []
        with dependency_errors():
            return list(Repository.batch_get([(org_key(provider, org), repo_sort_key(n)) for n in names]))

    def all_users(self) -> list[User]:
        """Every user, by email: a Scan of the directory table, for the
        operators' CLI only (never on a request path)."""
        with dependency_errors():
            return sorted(User.scan(), key=lambda user: user.email)

    # -- writes (operators' CLI) ---------------------------------------

    def create_user(self, email: str, name: str, now: datetime) -> User:
        """A new user and its unique email, written together (one transaction)."""
        for _ in range(5):
            user_id = secrets.randbelow(MAX_ID) + 1
            user = User(user_key(user_id), "user", user_id=user_id, email=email, name=name, created_at=now)
            pointer = Email(email_key(email), "email", user_id=user_id, created_at=now)
            with dependency_errors():
                try:
                    with TransactWrite(connection=DirectoryItem._get_connection().connection) as transaction:
                        transaction.save(pointer, condition=DirectoryItem.pk.does_not_exist())
                        transaction.save(user, condition=DirectoryItem.pk.does_not_exist())
                    return user
                except TransactWriteError as error:
                    codes = cancellation_codes(error)
                    if codes and codes[0] == "ConditionalCheckFailed":
                        raise Conflict(f"user {email} already exists") from None
                    if "ConditionalCheckFailed" not in codes:
                        raise
        raise Conflict("could not allocate a user id, retry")

    def disable_user(self, user: User) -> None:
        with dependency_errors():
            user.update(actions=[User.disabled.set(True)])

    def enable_user(self, user: User) -> None:
        with dependency_errors():
            user.update(actions=[User.disabled.set(False)])

    def delete_organization(self, org: Organization) -> None:
        """Delete an organization item and every grant on it (its
        repositories are the caller's to delete first)."""
        with dependency_errors():
            org.delete()
        self.delete_grants_on(f"{org.provider}/{org.name}")

    def repository_names(self, provider: str, org: str) -> list[str]:
        """Every repository name of an organization (one Query per page)."""
        with dependency_errors():
            repositories = Repository.query(org_key(provider, org), Repository.sk.startswith(REPOSITORY_SORT_PREFIX))
            return [repo.name for repo in repositories]

    def create_organization(self, provider: str, name: str, now: datetime, personal: bool = False) -> Organization:
        org = Organization(
            org_key(provider, name), "org", org_id=secrets.randbelow(MAX_ID) + 1,
            provider=provider, name=name, created_at=now, personal=personal,
        )
        self._put_new(org, retry_on_conflict=False, what=f"organization {provider}/{name}")
        return org

    def create_repository(self, repository: RepositoryRef, now: datetime, public: bool = False) -> Repository:
        """A new repository of that name, with a new id (whatever `repository.id` says)."""
        provider, org, name = repository.path
        repo = Repository(
            org_key(provider, org), repo_sort_key(name), repository_id=secrets.randbelow(MAX_ID) + 1,
            provider=provider, owner=org, name=name, created_at=now, public=public,
        )
        self._put_new(repo, retry_on_conflict=False, what=f"repository {repository}")
        return repo

    def delete_repository(self, repo: Repository, now: datetime) -> DeletedRepository:
        """Delete a repository, leaving its tombstone, in one transaction; then
        every grant on it (fan-out through target-index).

        The tombstone keeps the repository's id: what was stored under that
        id is removed after this (`AdminService.delete_repository`), and can
        be resumed from it if that fails half-way.
        """
        tombstone = DeletedRepository(
            repo.pk, deleted_sort_key(repo.repository_id), repository_id=repo.repository_id,
            provider=repo.provider, owner=repo.owner, name=repo.name, created_at=repo.created_at,
            deleted_at=now,
        )
        with dependency_errors(), TransactWrite(connection=DirectoryItem._get_connection().connection) as transaction:
            transaction.delete(repo)
            transaction.save(tombstone)
        self.delete_grants_on(repo.full_name)
        return tombstone

    def deleted_repository(self, provider: str, org: str, repository_id: int) -> DeletedRepository | None:
        return self._get(DeletedRepository, org_key(provider, org), deleted_sort_key(repository_id))

    def unpurged_deletions(self, repository: RepositoryRef) -> list[DeletedRepository]:
        """Deletions of repositories of that name whose clean-up has not
        finished (one Query over the organization's tombstones)."""
        with dependency_errors():
            return list(DeletedRepository.query(
                org_key(repository.provider, repository.org), DeletedRepository.sk.startswith("deleted#"),
                consistent_read=True,
                filter_condition=((DeletedRepository.name == repository.name)
                                  & DeletedRepository.purged_at.does_not_exist()),
            ))

    def mark_purged(self, tombstone: DeletedRepository, now: datetime) -> None:
        with dependency_errors():
            tombstone.update(actions=[DeletedRepository.purged_at.set(now)])

    def delete_grants_on(self, target: str) -> int:
        """Delete every grant on `target` (idempotent: resumes a fan-out cut short)."""
        with dependency_errors():
            grants = list(Grant.by_target.query(target))
            for grant in grants:
                grant.delete()
        return len(grants)

    def put_grant(self, user: User, target: str, role: str, now: datetime) -> Grant:
        grant = Grant(
            user_key(user.user_id), grant_sort_key(target), user_id=user.user_id,
            target=target, role=role, created_at=now,
        )
        with dependency_errors():
            grant.save()
        return grant

    def delete_grant(self, user: User, target: str) -> bool:
        with dependency_errors():
            try:
                Grant(user_key(user.user_id), grant_sort_key(target)).delete(condition=Grant.pk.exists())
            except DeleteError as error:
                if is_condition_failure(error):
                    return False
                raise
        return True

    # -- helpers ----------------------------------------------------------

    @staticmethod
    def _get(model, pk: str, sk: str):
        with dependency_errors():
            try:
                return model.get(pk, sk, consistent_read=True)
            except model.DoesNotExist:
                return None

    @staticmethod
    def _put_new(item: DirectoryItem, *, retry_on_conflict: bool, what: str) -> bool:
        """Save `item` only if its key is free; False (or Conflict) if not."""
        with dependency_errors():
            try:
                item.save(condition=DirectoryItem.pk.does_not_exist())
            except PutError as error:
                if not is_condition_failure(error):
                    raise
                if retry_on_conflict:
                    return False
                raise Conflict(f"{what} already exists") from None
        return True

