"""Verify a JWT signed by an OpenID Connect issuer: one function in, claims or one error out.

Generic on purpose (CI identity tokens for keyless uploads, ID tokens for the
console's sign-in), built on PyJWT with `cryptography`:

- keys come from the issuer's discovery document
  (`<issuer>/.well-known/openid-configuration`, whose `issuer` must be the
  configured one) and the JWKS it names; they are cached per verifier,
  refetched when a token names an unknown `kid` (at most once per
  `refresh_interval_seconds`, so a flood of made-up key ids cannot turn into a
  flood of fetches) and when the cache is older than `max_age_seconds` (a key
  the issuer withdrew stops being trusted);
- the algorithms are pinned (`RS256` unless told otherwise): `none`, `HS256`
  and any other `alg` in the header are refused before any key is looked at;
  a JWK whose own `alg` differs from the header's is never used;
- `iss` and `aud` must equal the configured values exactly (a list `aud` is
  refused unless `strict_audience=False`);
- `exp` and `iat` are required, `exp`/`iat`/`nbf` are checked against the
  injected clock with `leeway_seconds`;
- an expected `nonce` is compared in constant time.

Network and time are injected: `fetcher(url, timeout) -> bytes` (default: an
HTTP GET with a timeout and a size bound) and `clock() -> datetime`, so tests
serve keys on 127.0.0.1 and move time. Nothing here imports Chalice or AWS.

    verifier = JWTVerifier(Issuer("https://token.actions.githubusercontent.com", "latchkey"))
    claims = verifier.verify(token)            # or raises JWTVerificationError(reason)
"""
from __future__ import annotations

import hmac
import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt

log = logging.getLogger(__name__)

Fetcher = Callable[[str, float], bytes]
Clock = Callable[[], datetime]

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_TOKEN_CHARS = 16 * 1024
DISCOVERY_PATH = "/.well-known/openid-configuration"
# JWK key type by algorithm family (RS256/PS256: RSA, ES256: EC, EdDSA: OKP).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class JWTVerificationError(Exception):
    """The token is not acceptable. `reason` is short, stable and safe to log
    (it never contains the token)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(JWTVerificationError):
    """The issuer's keys could not be fetched or read: the token may be fine,
    the failure is on the way to the issuer (a caller may answer 503)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Key documents are fetched from where the issuer says, not where a
    redirect points (which could also downgrade https to http)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_get(url: str, timeout: float) -> bytes:
    """GET `url` (http or https only, no redirects), at most `MAX_DOCUMENT_BYTES`, within `timeout` seconds."""
    if not url.startswith(("https://", "http://")):
        raise KeysUnavailable("unsupported key URL scheme")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "latchkey"})
    with _OPENER.open(request, timeout=timeout) as response:  # scheme checked above  # nosec B310
        body = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeysUnavailable("key document too large")
    return body


@dataclass(frozen=True)
class Issuer:
    """One trusted issuer: its exact `iss`, the exact `aud` we expect, and how to find its keys."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256",)
    # Defaults to `issuer + DISCOVERY_PATH`; `jwks_uri` skips discovery altogether.
    discovery_url: str | None = None
    jwks_uri: str | None = None
    strict_audience: bool = True

    def discovery(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + DISCOVERY_PATH


@dataclass
class _KeySet:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None  # clock timestamp of the last fetch attempt
    failure: str = "issuer keys unavailable"  # why the last attempt failed
    loaded_at: float | None = None   # ... of the last successful one


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _load_json(body: bytes, what: str) -> dict:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KeysUnavailable(f"{what} is not JSON") from None
    if not isinstance(document, dict):
        raise KeysUnavailable(f"{what} is not a JSON object")
    return document


def peek_issuer(token: str) -> str:
    """The `iss` a token claims, unverified: only for choosing which verifier
    to run. Raises `JWTVerificationError("malformed")`."""
    claims = _unverified_claims(token)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise JWTVerificationError("missing claim: iss")
    return issuer


def _unverified_claims(token: str) -> dict:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise JWTVerificationError("malformed")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise JWTVerificationError("malformed") from None
    if not isinstance(claims, dict):
        raise JWTVerificationError("malformed")
    return claims


class JWTVerifier:
    """Verifies tokens of one issuer; keeps that issuer's keys cached. Thread-safe."""

    def __init__(
        self,
        issuer: Issuer,
        *,
        fetcher: Fetcher = http_get,
        clock: Clock | None = None,
        leeway_seconds: float = 30,
        refresh_interval_seconds: float = 60,
        max_age_seconds: float = 3600,
        timeout_seconds: float = 3.0,
        required_claims: tuple[str, ...] = (),
    ):
        if not issuer.algorithms or any(alg.lower() == "none" or alg.startswith("HS") for alg in issuer.algorithms):
            raise ValueError("algorithms must be asymmetric (no 'none', no HMAC)")
        self.issuer = issuer
        self.fetcher = fetcher
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.leeway = float(leeway_seconds)
        self.refresh_interval = float(refresh_interval_seconds)
        self.max_age = float(max_age_seconds)
        self.timeout = float(timeout_seconds)
        self.required = ("exp", "iat", "iss", "aud") + tuple(required_claims)
        self._keys = _KeySet()
        self._lock = threading.Lock()

    # -- the one entry point --------------------------------------------

    def verify(self, token: str, *, nonce: str | None = None) -> dict:
        """The token's claims if it is acceptable now; otherwise `JWTVerificationError`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise JWTVerificationError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise JWTVerificationError("malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.issuer.algorithms:
            raise JWTVerificationError("unsupported algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise JWTVerificationError("missing key id")
        key = self._key(kid)
        if key.algorithm_name != alg:
            raise JWTVerificationError("key algorithm mismatch")
        claims = self._decode(token, key, alg)
        self._check_times(claims)
        if nonce is not None:
            presented = claims.get("nonce")
            if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), nonce.encode()):
                raise JWTVerificationError("nonce mismatch")
        return claims

    # -- checks -----------------------------------------------------------

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict:
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.issuer.audience,
                issuer=self.issuer.issuer,
                options={
                    "require": list(self.required),
                    # Time is checked against our own clock below.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "strict_aud": self.issuer.strict_audience,
                },
            )
        except jwt.InvalidSignatureError:
            raise JWTVerificationError("bad signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise JWTVerificationError(f"missing claim: {exc.claim}") from None
        except jwt.InvalidAudienceError:
            raise JWTVerificationError("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise JWTVerificationError("wrong issuer") from None
        except jwt.PyJWTError:
            raise JWTVerificationError("malformed") from None

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock().timestamp()
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _number(claims[name]):
                raise JWTVerificationError(f"malformed claim: {name}")
        if claims["exp"] <= now - self.leeway:
            raise JWTVerificationError("expired")
        if claims["iat"] > now + self.leeway:
            raise JWTVerificationError("issued in the future")
        if "nbf" in claims and claims["nbf"] > now + self.leeway:
            raise JWTVerificationError("not yet valid")

    # -- keys ---------------------------------------------------------------

    def _key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self.clock().timestamp()
            keys = self._keys
            stale = keys.loaded_at is None or now - keys.loaded_at >= self.max_age
            may_fetch = keys.fetched_at is None or now - keys.fetched_at >= self.refresh_interval
            if (stale or kid not in keys.keys) and may_fetch:
                keys.fetched_at = now
                try:
                    keys.keys = self._fetch_keys()
                    keys.loaded_at = now
                except KeysUnavailable as exc:
                    keys.failure = exc.reason
                    log.warning("issuer keys unavailable: issuer=%s reason=%s", self.issuer.issuer, exc.reason)
            # Keys that could not be refreshed for twice their age limit are not trusted.
            if keys.loaded_at is None or now - keys.loaded_at >= 2 * self.max_age:
                raise KeysUnavailable(keys.failure)
            key = keys.keys.get(kid)
        if key is None:
            raise JWTVerificationError("unknown key id")
        return key

    def _get(self, url: str, what: str) -> dict:
        try:
            body = self.fetcher(url, self.timeout)
        except KeysUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - network, TLS, HTTP status: all "unavailable"
            raise KeysUnavailable(f"{what} fetch failed: {type(exc).__name__}") from None
        return _load_json(body, what)

    def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        jwks_uri = self.issuer.jwks_uri
        if jwks_uri is None:
            discovery = self._get(self.issuer.discovery(), "discovery document")
            if discovery.get("issuer") != self.issuer.issuer:
                raise KeysUnavailable("discovery document names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise KeysUnavailable("discovery document has no jwks_uri")
            if self.issuer.issuer.startswith("https://") and not jwks_uri.startswith("https://"):
                raise KeysUnavailable("jwks_uri is not https")
        jwks = self._get(jwks_uri, "JWKS")
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise KeysUnavailable("JWKS has no keys")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            key = self._usable(entry)
            if key is not None:
                keys.setdefault(entry["kid"], key)
        return keys

    def _usable(self, entry: Any) -> jwt.PyJWK | None:
        """A JWKS entry as a key for one of our algorithms, or None (skipped)."""
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            return None
        if entry.get("use", "sig") != "sig":
            return None
        declared = entry.get("alg")
        if declared is not None:
            candidates = [declared] if declared in self.issuer.algorithms else []
        else:
            candidates = [alg for alg in self.issuer.algorithms if _KEY_TYPES.get(alg[:2]) == entry.get("kty")]
        if not candidates:
            return None
        try:
            key = jwt.PyJWK(entry, algorithm=candidates[0])
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            log.info("JWKS entry skipped: issuer=%s kid=%r", self.issuer.issuer, entry.get("kid"))
            return None
        return key
