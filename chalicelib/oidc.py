"""Signing people in with OpenID Connect: the authorization code flow with
PKCE (S256), `state` and `nonce`, against the configured issuer.

No I/O but the provider's own endpoints (discovery, JWKS, token), each
fetched with a short timeout; the discovery document and the keys are
cached per process. The ID token is verified in `verify_id_token`: its
signature against the issuer's keys with pinned algorithms, the exact
issuer and audience, expiry (small leeway), and the nonce of this sign-in.
Nothing here knows which provider it talks to: `make run`'s development
provider and Cognito take the same path.
"""
import base64
import functools
import hashlib
import hmac
import json
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass

from chalicelib.errors import LatchkeyError

ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 5


class SignInError(LatchkeyError):
    """The provider's answer cannot sign anyone in (never says more to the browser)."""

    default_message = "sign-in failed"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A PKCE `code_verifier` (RFC 7636: 43-128 characters) and its S256 challenge."""
    verifier = _b64url(secrets.token_bytes(48))  # 64 characters
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _get_json(url: str) -> dict:
    if not url.startswith(("https://", "http://")):
        raise SignInError(f"not an http(s) URL: {url!r}")
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as answer:  # nosec B310 - scheme checked above
        return json.loads(answer.read(1024 * 1024))


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


@functools.lru_cache(maxsize=4)
def discover(issuer: str) -> Provider:
    """The issuer's discovery document; its `issuer` must be exactly ours."""
    document = _get_json(issuer + "/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise SignInError(f"discovery: issuer {document.get('issuer')!r} is not {issuer!r}")
    try:
        return Provider(issuer, document["authorization_endpoint"], document["token_endpoint"],
                        document["jwks_uri"], document.get("end_session_endpoint"))
    except KeyError as missing:
        raise SignInError(f"discovery: no {missing}") from None


def authorization_url(provider: Provider, *, client_id: str, redirect_uri: str, state: str, nonce: str,
                      challenge: str) -> str:
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid email", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    return provider.authorization_endpoint + separator + query


def exchange_code(provider: Provider, *, code: str, verifier: str, redirect_uri: str, client_id: str,
                  client_secret: str | None = None) -> str:
    """The ID token the provider gives for `code` and its PKCE verifier."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": client_id}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if client_secret:
        pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    if not provider.token_endpoint.startswith(("https://", "http://")):
        raise SignInError("token endpoint: not an http(s) URL")
    request = urllib.request.Request(provider.token_endpoint, data=urllib.parse.urlencode(form).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as answer:  # nosec B310 - checked
            body = json.loads(answer.read(1024 * 1024))
    except urllib.error.HTTPError as error:
        raise SignInError(f"token endpoint answered {error.code}") from None
    except (OSError, ValueError):
        raise SignInError("token endpoint unreachable or not JSON") from None
    token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise SignInError("token endpoint: no id_token")
    return token


@functools.lru_cache(maxsize=4)
def verifier(issuer: str, client_id: str, jwks_uri: str):
    """One verifier per issuer and client, its keys cached for the process
    (refetched on an unknown `kid`, at most once a minute): the shared
    `chalicelib.jwt_verify`."""
    from chalicelib.jwt_verify import Issuer, JWTVerifier

    return JWTVerifier(Issuer(issuer, client_id, algorithms=ALGORITHMS, jwks_uri=jwks_uri),
                       leeway_seconds=LEEWAY_SECONDS, timeout_seconds=HTTP_TIMEOUT_SECONDS,
                       required_claims=("sub", "nonce"))


def verify_id_token(token: str, *, issuer: str, client_id: str, nonce: str, jwks_uri: str,
                    token_verifier=None) -> dict:
    """The claims of a valid ID token of this sign-in, or SignInError: the
    signature against the issuer's JWKS (pinned algorithms), exact `iss` and
    `aud` (a single audience), `exp`/`iat` with a small leeway, and the nonce
    this sign-in sent, in constant time."""
    from chalicelib.jwt_verify import JWTVerificationError

    checker = token_verifier or verifier(issuer, client_id, jwks_uri)
    try:
        claims = checker.verify(token, nonce=nonce)
    except JWTVerificationError as error:
        raise SignInError(f"id_token: {error.reason}") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise SignInError("id_token: nonce mismatch")  # verify() checked it; kept explicit
    return claims


def verified_email(claims: dict) -> str | None:
    """The email the provider vouches for (`email_verified` true), lower-cased."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") not in (True, "true"):
        return None
    return email.strip().lower()
