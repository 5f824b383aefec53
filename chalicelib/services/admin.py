"""Operators' use cases (the `manage.py` CLI): the directory and bootstrap tokens.

Changes that end access fan out at write time, so that validating a token
stays one read: disabling a user disables their account tokens, deleting a
repository deletes its project tokens and grants.
"""
from datetime import timedelta

from chalicelib.access import ORG_ROLES, PROVIDERS, REPO_ROLES, Principal
from chalicelib.clock import utcnow
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models.directory import User
from chalicelib.services.tokens import NewToken, TokenService
from chalicelib.store.directory import DirectoryStore
from chalicelib.token_format import Kind


def parse_target(target: str) -> tuple[str, str, str | None]:
    """`PROVIDER/ORG` or `PROVIDER/ORG/REPO`."""
    parts = target.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise BadRequest(f"target: expected PROVIDER/ORG or PROVIDER/ORG/REPO, got {target!r}")
    check_provider(parts[0])
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise BadRequest(f"provider: one of {', '.join(PROVIDERS)}, got {provider!r}")


def check_name(what: str, value: str) -> None:
    if not value or "/" in value or "#" in value or len(value) > 100 or not value.isprintable():
        raise BadRequest(f"{what}: 1-100 printable characters without '/' or '#', got {value!r}")


class AdminService:
    def __init__(self, store: DirectoryStore | None = None, tokens: TokenService | None = None, clock=utcnow):
        self.store = store or DirectoryStore()
        self.tokens = tokens or TokenService()
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
        from chalicelib.services.sessions import SessionService

        SessionService(directory=self.store).end_all(int(user.user_id))
        return disabled

    def create_organization(self, provider: str, org: str):
        check_provider(provider)
        check_name("org", org)
        return self.store.create_organization(provider, org, self.clock())

    def create_repository(self, provider: str, org: str, repo: str):
        check_provider(provider)
        check_name("repo", repo)
        if self.store.organization(provider, org) is None:
            raise NotFound(f"no organization {provider}/{org}; create-org first")
        return self.store.create_repository(provider, org, repo, self.clock())

    def delete_repository(self, provider: str, org: str, repo: str) -> int:
        """Delete a repository, its grants and its project tokens; the tokens deleted."""
        check_provider(provider)
        full_name = f"{provider}/{org}/{repo}"
        repository = self.store.repository(provider, org, repo)
        if repository is not None:
            # The repository goes first: from then on no project token can
            # be created for it (its creation checks the repository).
            self.store.delete_repository(repository)
            self._delete_publishers(provider, org, repo)
            return self.tokens.delete_tokens_of_repository(full_name)
        # Gone already: finish a deletion that failed half-way (its grants
        # and tokens would otherwise come back with a same-named repository).
        leftovers = self.store.delete_grants_on(full_name) + self._delete_publishers(provider, org, repo)
        deleted = self.tokens.delete_tokens_of_repository(full_name)
        if not leftovers and not deleted:
            raise NotFound(f"no repository {full_name}")
        return deleted

    @staticmethod
    def _delete_publishers(provider: str, org: str, repo: str) -> int:
        """A deleted repository's trusted publishers go with it (a same-named
        repository created later trusts no one: the exchange also checks ids)."""
        from chalicelib.store.publishers import PublisherStore

        return PublisherStore().delete_all_of(provider, org, repo)

    def grant(self, email: str, target: str, role: str):
        provider, org, repo = parse_target(target)
        roles = REPO_ROLES if repo else ORG_ROLES
        if role not in roles:
            kind = "repository" if repo else "organization"
            raise BadRequest(f"role: {kind} roles are {', '.join(roles)}, got {role!r}")
        user = self.user(email)
        exists = self.store.repository(provider, org, repo) if repo else self.store.organization(provider, org)
        if exists is None:
            raise NotFound(f"no {'repository' if repo else 'organization'} {target}")
        return self.store.put_grant(user, target, role, self.clock())

    def revoke_access(self, email: str, target: str) -> None:
        parse_target(target)
        if not self.store.delete_grant(self.user(email), target):
            raise NotFound(f"{email} has no grant on {target}")

    def seed(self, email: str, name: str, provider: str, org: str, repo: str) -> tuple[NewToken, NewToken]:
        """A user administering a new repository, with one account token and
        one project token named `name` (the demo data of `make run`, and the
        bench's)."""
        user = self.create_user(email, name)
        self.create_organization(provider, org)
        self.create_repository(provider, org, repo)
        self.grant(email, f"{provider}/{org}/{repo}", "admin")
        account = self.issue_token(email, name=name.lower())
        principal = Principal(Kind.ACCOUNT, int(account.token.token_id), user_id=int(user.user_id))
        project = self.tokens.create_project_token(principal, provider, org, repo, name=name.lower())
        return account, project

    def issue_token(self, email: str, name: str | None = None, expires_in_days: int | None = None) -> NewToken:
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days < 1:
                raise BadRequest("expires-in: at least 1 day")
            expires_at = (self.clock() + timedelta(days=expires_in_days)).isoformat()
        return self.tokens.issue_account_token(self.user(email), name=name, expires_at=expires_at)
