"""Operators' use cases (the `manage.py` CLI): the directory and bootstrap tokens.

Changes that end access fan out at write time, so that validating a token
stays one read: disabling a user disables their account tokens, deleting a
repository deletes its project tokens, grants and uploads.
"""
from datetime import timedelta

from chalicelib.access import ORG_ROLES, REPO_ROLES, Principal
from chalicelib.clock import utcnow
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models.directory import User
from chalicelib.names import check_name
from chalicelib.repository_ref import PROVIDERS, RepositoryRef
from chalicelib.services.revocation import RevocationService
from chalicelib.services.sessions import SessionService
from chalicelib.services.tokens import NewToken, TokenService
from chalicelib.services.uploads import UploadService
from chalicelib.store.directory import DirectoryStore
from chalicelib.store.publishers import PublisherStore
from chalicelib.store.uploads import UploadStore
from chalicelib.token_format import Kind


def parse_target(target: str) -> tuple[str, str, RepositoryRef | None]:
    """`PROVIDER/ORG` or `PROVIDER/ORG/REPO`: (provider, org, the repository
    when the target names one)."""
    repository = RepositoryRef.find(target)
    if repository is not None:
        provider, org = repository.provider, repository.org
    else:
        provider, _, org = target.partition("/")
        if not provider or not org or "/" in org:
            raise BadRequest(f"target: expected PROVIDER/ORG or PROVIDER/ORG/REPO, got {target!r}")
    check_provider(provider)
    return provider, org, repository


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise BadRequest(f"provider: one of {', '.join(PROVIDERS)}, got {provider!r}")


class AdminService:
    def __init__(self, store: DirectoryStore, tokens: TokenService, revocation: RevocationService,
                 sessions: SessionService, upload_service: UploadService, uploads: UploadStore,
                 publishers: PublisherStore, clock=utcnow):
        self.store = store
        self.tokens = tokens
        self.revocation = revocation
        self.sessions = sessions
        self.upload_service = upload_service
        self.uploads = uploads
        self.publishers = publishers
        self.clock = clock

    def user(self, email: str) -> User:
        user = self.store.user_by_email(email)
        if user is None:
            raise NotFound(f"no user {email}")
        return user

    def create_user(self, email: str, name: str | None = None) -> User:
        if "@" not in email or len(email) > 254 or not email.isprintable() or " " in email:
            raise BadRequest(f"email: not an email address: {email!r}")
        return self.store.create_user(email, name or email.split("@")[0], self.clock())

    def disable_user(self, email: str) -> int:
        """Disable a user and every account token of theirs; the count disabled."""
        user = self.user(email)
        self.store.disable_user(user)
        disabled = self.tokens.disable_tokens_of_user(int(user.user_id))
        # Console sessions end too: the next console request signs in again
        # and is refused (the authorizer reads the session only).
        self.sessions.end_all(int(user.user_id))
        return disabled

    def enable_user(self, email: str, *, with_tokens: bool = False) -> int:
        """Enable a disabled user; with `with_tokens`, their unexpired account
        tokens too. The count of tokens enabled."""
        user = self.user(email)
        self.store.enable_user(user)
        return self.tokens.enable_tokens_of_user(int(user.user_id)) if with_tokens else 0

    def users(self) -> list[User]:
        return self.store.all_users()

    def user_tokens(self, email: str):
        return self.tokens.tokens_of_user(int(self.user(email).user_id))

    def revoke_token(self, token_id: int):
        return self.revocation.revoke_by_id(token_id)

    def issue_project_token(self, target: str, name: str | None = None,
                            expires_in_days: int | None = None) -> NewToken:
        _, _, named = parse_target(target)
        if named is None:
            raise BadRequest(f"target: expected PROVIDER/ORG/REPO, got {target!r}")
        repository = self.store.repository(named)
        if repository is None:
            raise NotFound(f"no repository {target}")
        return self.tokens.issue_project_token(repository, name=name, expires_at=self._expiry(expires_in_days))

    def delete_organization(self, provider: str, org: str) -> tuple[int, int]:
        """Delete an organization, its grants and every repository of it (with
        their grants and project tokens); (repositories, project tokens) deleted."""
        check_provider(provider)
        organization = self.store.organization(provider, org)
        names = self.store.repository_names(provider, org)
        if organization is None and not names:
            raise NotFound(f"no organization {provider}/{org}")
        if organization is not None:
            # The organization goes first: no repository can be created in it from then on.
            self.store.delete_organization(organization)
        tokens = sum(self.delete_repository(RepositoryRef(provider, org, name)) for name in names)
        return len(names), tokens

    def _expiry(self, expires_in_days: int | None) -> str | None:
        if expires_in_days is None:
            return None
        if expires_in_days < 1:
            raise BadRequest("expires-in: at least 1 day")
        return (self.clock() + timedelta(days=expires_in_days)).isoformat()

    def create_organization(self, provider: str, org: str, personal: bool = False):
        """`personal`: a user's own account on the provider (`type: Account` in the API)."""
        check_provider(provider)
        check_name("org", org)
        return self.store.create_organization(provider, org, self.clock(), personal=personal)

    def create_repository(self, repository: RepositoryRef, public: bool = False):
        check_provider(repository.provider)
        check_name("repo", repository.name)
        if self.store.organization(repository.provider, repository.org) is None:
            raise NotFound(f"no organization {repository.organization}; create-org first")
        return self.store.create_repository(repository, self.clock(), public=public)

    def delete_repository(self, repository: RepositoryRef) -> int:
        """Delete a repository, its grants, its project tokens and its uploads;
        the tokens deleted.

        The repository goes first, leaving its tombstone (its id) in the
        same write: from then on its name resolves to nothing (or to a new
        repository, with a new id), so nothing of it is readable, and no
        project token can be created for it. Then grants, tokens and uploads
        go, in bounded batches; run again, the deletion resumes a clean-up
        that failed half-way.
        """
        check_provider(repository.provider)
        live = self.store.repository(repository)
        pending = self.store.unpurged_deletions(repository)
        if live is not None:
            pending.append(self.store.delete_repository(live, self.clock()))
        elif not pending:
            raise NotFound(f"no repository {repository}")
        return sum(self._purge(tombstone) for tombstone in pending)

    def _purge(self, tombstone) -> int:
        """Remove what was keyed by a deleted repository's id; the tokens deleted."""
        self.store.delete_grants_on(tombstone.full_name)
        deleted_repository = RepositoryRef.of(tombstone)
        if self.store.repository(deleted_repository) is None:
            # Publishers are stored by name: a namesake created meanwhile keeps
            # its own (the old ones name the old id, which the exchange checks).
            self._delete_publishers(deleted_repository)
        deleted = self.tokens.delete_tokens_of_repository(int(tombstone.repository_id))
        while self.uploads.purge_step(int(tombstone.repository_id)) != (0, 0):
            pass
        self.store.mark_purged(tombstone, self.clock())
        return deleted

    def _delete_publishers(self, repository: RepositoryRef) -> int:
        """A deleted repository's trusted publishers go with it (a same-named
        repository created later trusts no one: the exchange also checks ids)."""
        return self.publishers.delete_all_of(repository)

    def grant(self, email: str, target: str, role: str):
        provider, org, repository = parse_target(target)
        roles = REPO_ROLES if repository else ORG_ROLES
        if role not in roles:
            kind = "repository" if repository else "organization"
            raise BadRequest(f"role: {kind} roles are {', '.join(roles)}, got {role!r}")
        user = self.user(email)
        exists = self.store.repository(repository) if repository else self.store.organization(provider, org)
        if exists is None:
            raise NotFound(f"no {'repository' if repository else 'organization'} {target}")
        return self.store.put_grant(user, target, role, self.clock())

    def revoke_access(self, email: str, target: str) -> None:
        parse_target(target)
        if not self.store.delete_grant(self.user(email), target):
            raise NotFound(f"{email} has no grant on {target}")

    def seed(self, email: str, name: str, repository: RepositoryRef) -> tuple[NewToken, NewToken]:
        """A user administering a new repository, with one account token and
        one project token named `name` (the demo data of `make run`, and the
        bench's)."""
        user = self.create_user(email, name)
        self.create_organization(repository.provider, repository.org)
        self.create_repository(repository)
        self.grant(email, str(repository), "admin")
        account = self.issue_token(email, name=name.lower())
        principal = Principal(Kind.ACCOUNT, int(account.token.token_id), user_id=int(user.user_id))
        project = self.tokens.create_project_token(principal, repository, name=name.lower())
        return account, project

    def issue_token(self, email: str, name: str | None = None, expires_in_days: int | None = None) -> NewToken:
        return self.tokens.issue_account_token(self.user(email), name=name, expires_at=self._expiry(expires_in_days))

    def set_analysis_configuration(self, repository: RepositoryRef, body) -> dict:
        """Replace a repository's analysis configuration (what the analysis
        CLI reads), as the operator; validated and audited as over the API."""
        check_provider(repository.provider)
        if self.store.repository(repository) is None:
            raise NotFound(f"no repository {repository}")
        return self.upload_service.set_configuration(None, repository, body)
