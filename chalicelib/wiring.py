"""The composition root: every store and service of the process, built once.

The routes (`chalicelib.api`), the authorizer, `manage.py`, `make run` and
the scheduled sweeper take what they use from `root()`; services and stores
receive their collaborators from here and build none themselves. Tests
replace a piece at this one seam: `Root(clock=..., token_store=...)`, installed
for a test by the `root` fixture of tests/conftest.py.

Each piece is built, and its module imported, when it is first used: the
authorizer's Lambda imports the token store on its first well-formed token
and never a service or the upload code, and importing the API imports no
PynamoDB. This is the one module whose imports wait for that reason.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.clock import utcnow
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.secret_scanning import GithubKeys
    from chalicelib.services.admin import AdminService
    from chalicelib.services.audit import AuditReader, AuditService
    from chalicelib.services.directory import DirectoryService
    from chalicelib.services.keyless import PublisherService, TokenExchange
    from chalicelib.services.revocation import RevocationService
    from chalicelib.services.sessions import SessionService
    from chalicelib.services.sweeper import Sweeper
    from chalicelib.services.tokens import TokenService
    from chalicelib.services.uploads import UploadService
    from chalicelib.store.audit import AuditStore
    from chalicelib.store.directory import DirectoryStore
    from chalicelib.store.publishers import ClaimStore, PublisherStore
    from chalicelib.store.sessions import SessionStore
    from chalicelib.store.tokens import TokenLifecycleStore, TokenStore
    from chalicelib.store.uploads import UploadStore


class Root:
    """The stores and services of one process, on one settings and one clock.

    `parts` replace pieces by name before anything is built (a test's fake
    store, a service with other settings): whatever uses them gets them.
    """

    def __init__(self, settings: Settings | None = None, clock: Callable[[], datetime] = utcnow, **parts: Any):
        if settings is not None:
            self.settings = settings
        self.clock = clock
        for name, part in parts.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise TypeError(f"Root has no part {name!r}")
            setattr(self, name, part)

    @cached_property
    def settings(self) -> Settings:
        """The environment's (`chalicelib.settings`), unless given."""
        return get_settings()

    # -- stores ------------------------------------------------------------

    @cached_property
    def token_store(self) -> TokenStore:
        from chalicelib.store.tokens import TokenStore

        return TokenStore(self.settings)

    @cached_property
    def lifecycle_store(self) -> TokenLifecycleStore:
        from chalicelib.store.tokens import TokenLifecycleStore

        return TokenLifecycleStore(self.token_store)

    @cached_property
    def directory_store(self) -> DirectoryStore:
        from chalicelib.store.directory import DirectoryStore

        return DirectoryStore()

    @cached_property
    def session_store(self) -> SessionStore:
        from chalicelib.store.sessions import SessionStore

        return SessionStore()

    @cached_property
    def audit_store(self) -> AuditStore:
        from chalicelib.store.audit import AuditStore

        return AuditStore(self.settings)

    @cached_property
    def upload_store(self) -> UploadStore:
        from chalicelib.store.uploads import UploadStore

        return UploadStore(self.settings)

    @cached_property
    def publisher_store(self) -> PublisherStore:
        from chalicelib.store.publishers import PublisherStore

        return PublisherStore()

    @cached_property
    def claim_store(self) -> ClaimStore:
        from chalicelib.store.publishers import ClaimStore

        return ClaimStore()

    # -- services ----------------------------------------------------------

    @cached_property
    def audit(self) -> AuditService:
        from chalicelib.services.audit import AuditService, Refusals

        return AuditService(self.audit_store, Refusals(self.settings.last_used_interval_seconds), clock=self.clock)

    @cached_property
    def directory(self) -> DirectoryService:
        from chalicelib.services.directory import DirectoryService

        return DirectoryService(self.directory_store)

    @cached_property
    def tokens(self) -> TokenService:
        from chalicelib.services.tokens import TokenService

        return TokenService(self.token_store, self.lifecycle_store, self.directory, self.audit, self.settings,
                            clock=self.clock)

    @cached_property
    def revocation(self) -> RevocationService:
        from chalicelib.services.revocation import RevocationService

        return RevocationService(self.token_store, self.lifecycle_store, self.audit, clock=self.clock)

    @cached_property
    def sessions(self) -> SessionService:
        from chalicelib.services.sessions import SessionService

        return SessionService(self.session_store, self.directory_store, self.settings, clock=self.clock)

    @cached_property
    def uploads(self) -> UploadService:
        from chalicelib.services.uploads import UploadService

        return UploadService(self.directory, self.upload_store, self.audit, self.settings, clock=self.clock)

    @cached_property
    def audit_reader(self) -> AuditReader:
        from chalicelib.services.audit import AuditReader

        return AuditReader(self.directory, self.audit)

    @cached_property
    def publishers(self) -> PublisherService:
        from chalicelib.services.keyless import PublisherService

        return PublisherService(self.publisher_store, self.directory, self.audit, self.revocation, self.tokens,
                                self.settings, clock=self.clock)

    @cached_property
    def exchange(self) -> TokenExchange:
        """The exchange's verifiers, and so their key caches, live as long as the process."""
        from chalicelib.services.keyless import TokenExchange

        return TokenExchange(self.settings, publishers=self.publisher_store, claims=self.claim_store,
                             tokens=self.tokens, clock=self.clock)

    @cached_property
    def github_keys(self) -> GithubKeys:
        """GitHub's secret-scanning keys, cached for the process."""
        from chalicelib.secret_scanning import GithubKeys

        return GithubKeys(self.settings.github_secret_scanning_keys_url)

    @cached_property
    def admin(self) -> AdminService:
        from chalicelib.services.admin import AdminService

        return AdminService(self.directory_store, self.tokens, self.revocation, self.sessions, self.uploads,
                            self.upload_store, self.publisher_store, clock=self.clock)

    @cached_property
    def notifiers(self) -> list:
        """Where the sweeper's notices go."""
        from chalicelib.services.sweeper import notifiers

        return notifiers(self.settings)

    @cached_property
    def sweeper(self) -> Sweeper:
        from chalicelib.services.sweeper import Sweeper

        return Sweeper(self.token_store, self.lifecycle_store, self.tokens, self.directory_store, self.audit,
                       self.notifiers, self.settings, clock=self.clock)

    # -- the authorizer ----------------------------------------------------

    @cached_property
    def authorizer(self) -> TokenAuthorizer:
        """Built on the authorizer's first request; it takes its store, audit
        and sessions from this root when it first needs each."""
        from chalicelib.authorizer import TokenAuthorizer

        return TokenAuthorizer(self)


_root: Root | None = None


def root() -> Root:
    """The process's root (built on first use)."""
    global _root
    if _root is None:
        _root = Root()
    return _root


def install(new: Root | None) -> Root | None:
    """Make `new` the process's root (None: a fresh one on next use); the previous one."""
    global _root
    previous, _root = _root, new
    return previous
