"""Signing in to the console and holding a session.

`begin` starts an authorization request (state, nonce, PKCE verifier kept
server-side under a digest of a one-time cookie); `complete` takes that
request back exactly once, exchanges the code, verifies the ID token and
maps its verified email to the directory user. Only an enabled user of the
directory gets a session; anyone else gets `NoAccess`, and no session.
"""
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from chalicelib import oidc, session_cookie
from chalicelib.clock import utcnow
from chalicelib.errors import LatchkeyError
from chalicelib.models.directory import User
from chalicelib.models.sessions import PendingSignIn, Session, session_owner
from chalicelib.settings import Settings
from chalicelib.store.directory import DirectoryStore
from chalicelib.store.sessions import SessionStore

SIGN_IN_MINUTES = 10


class NoAccess(LatchkeyError):
    """Signed in at the provider, but not a (live) user of latchkey."""

    default_message = "no access"


class ConsoleNotConfigured(LatchkeyError):
    default_message = "the console has no OpenID Connect issuer (OIDC_ISSUER, OIDC_CLIENT_ID)"


@dataclass(frozen=True)
class Started:
    cookie: str  # the sign-in cookie's secret
    url: str  # where to send the browser


@dataclass(frozen=True)
class SignedIn:
    secret: str  # the session cookie's value: shown to the browser, never stored
    session: Session
    user: User
    next_path: str


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a console path of this site, nothing else."""
    if isinstance(path, str) and path.startswith("/console") and "//" not in path and "\\" not in path \
            and len(path) < 512 and path.isprintable():
        return path
    return "/console/account"


class SessionService:
    def __init__(self, store: SessionStore, directory: DirectoryStore, settings: Settings, clock=utcnow):
        self.store = store
        self.directory = directory
        self.settings = settings
        self.clock = clock

    def _provider(self) -> oidc.Provider:
        if not self.settings.oidc_issuer or not self.settings.oidc_client_id:
            raise ConsoleNotConfigured()
        return oidc.discover(self.settings.oidc_issuer)

    def begin(self, *, redirect_uri: str, next_path: str | None) -> Started:
        provider = self._provider()
        cookie = session_cookie.new_secret()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = oidc.pkce_pair()
        self.store.put_sign_in(PendingSignIn(
            PendingSignIn.key(session_cookie.digest(cookie)), state=state, nonce=nonce, verifier=verifier,
            redirect_uri=redirect_uri, next_path=safe_next(next_path),
            expires_at=self.clock() + timedelta(minutes=SIGN_IN_MINUTES),
        ))
        url = oidc.authorization_url(provider, client_id=str(self.settings.oidc_client_id),
                                     redirect_uri=redirect_uri, state=state, nonce=nonce, challenge=challenge)
        return Started(cookie, url)

    def complete(self, *, cookie: str | None, code: str | None, state: str | None) -> SignedIn:
        """The session of a finished sign-in; SignInError or NoAccess otherwise."""
        if not session_cookie.well_formed(cookie) or not code or not state:
            raise oidc.SignInError("no sign-in in progress in this browser")
        pending = self.store.take_sign_in(session_cookie.digest(str(cookie)))
        if pending is None or pending.expires_at <= self.clock():
            raise oidc.SignInError("this sign-in was already used or has expired")
        if not hmac.compare_digest(pending.state, state):
            raise oidc.SignInError("state does not match this sign-in")
        provider = self._provider()
        token = oidc.exchange_code(provider, code=code, verifier=pending.verifier, redirect_uri=pending.redirect_uri,
                                   client_id=str(self.settings.oidc_client_id),
                                   client_secret=self.settings.oidc_client_secret)
        claims = oidc.verify_id_token(token, issuer=provider.issuer, client_id=str(self.settings.oidc_client_id),
                                      nonce=pending.nonce, jwks_uri=provider.jwks_uri)
        email = oidc.verified_email(claims)
        user = self.directory.user_by_email(email) if email else None
        if user is None or user.disabled:
            raise NoAccess(email or "")
        return self.start(user, next_path=pending.next_path)

    def start(self, user: User, *, next_path: str = "/console/account") -> SignedIn:
        now = self.clock()
        secret = session_cookie.new_secret()
        session = Session(
            Session.key(session_cookie.digest(secret)), owner=session_owner(user.user_id),
            user_id=int(user.user_id), created_at=now, last_seen_at=now,
            expires_at=now + timedelta(hours=self.settings.session_max_hours), csrf=secrets.token_urlsafe(32),
        )
        self.store.create(session)
        return SignedIn(secret, session, user, safe_next(next_path))

    def end(self, session_key: str) -> None:
        """Sign out: the session is gone server-side, whatever the browser keeps."""
        digest = Session.digest_of(session_key)
        if digest is not None:
            self.store.delete(digest)

    def end_all(self, user_id: int) -> int:
        return self.store.delete_all_of(user_id)
