"""GitHub's secret-scanning partner contract: who may tell us a token leaked.

GitHub POSTs a JSON array of `{"token", "type", "url", "source"}` and signs
the raw body bytes with ECDSA P-256 / SHA-256; `Github-Public-Key-Identifier`
names the key among those published at GITHUB_SECRET_SCANNING_KEYS_URL
(`{"public_keys": [{"key_identifier", "key": "<PEM>", "is_current"}]}`) and
`Github-Public-Key-Signature` carries the base64 DER signature. Keys are
cached per process and refetched when an unknown identifier arrives, at most
once a minute (a stream of made-up identifiers costs one fetch a minute).

Pure verification: no Chalice, no AWS. The fetcher and clock are injectable
(tests serve keys on 127.0.0.1).
"""
import base64
import binascii
import json
import logging
import threading
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.jwt_verify import Fetcher, KeysUnavailable, http_get

log = logging.getLogger(__name__)

KEY_ID_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
MAX_SIGNATURE_CHARS = 512


class SignatureError(Exception):
    """The report is not GitHub's: missing, malformed or wrong signature, unknown key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class GithubKeys:
    """GitHub's secret-scanning public keys, cached, and the signature check."""

    def __init__(self, url: str, *, fetcher: Fetcher = http_get, clock=None,
                 refresh_interval_seconds: float = 60, timeout_seconds: float = 3.0):
        self.url = url
        self.fetcher = fetcher
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.refresh_interval = refresh_interval_seconds
        self.timeout = timeout_seconds
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def verify(self, body: bytes, key_id: str | None, signature: str | None) -> None:
        """Return if `signature` is GitHub's over `body` by key `key_id`; else SignatureError
        (KeysUnavailable, a JWT error type, when the keys cannot be fetched)."""
        if not key_id or not signature or len(signature) > MAX_SIGNATURE_CHARS or len(key_id) > 256:
            raise SignatureError("missing signature")
        try:
            der = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("malformed signature") from None
        key = self._key(key_id)
        try:
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SignatureError("bad signature") from None

    def _key(self, key_id: str) -> ec.EllipticCurvePublicKey:
        with self._lock:
            now = self.clock().timestamp()
            if key_id not in self._keys and (
                    self._fetched_at is None or now - self._fetched_at >= self.refresh_interval):
                self._fetched_at = now
                try:
                    self._keys = self._fetch()
                except KeysUnavailable as error:
                    log.warning("GitHub secret-scanning keys unavailable: %s", error.reason)
                    if not self._keys:
                        raise
            key = self._keys.get(key_id)
            if key is None and not self._keys and self._fetched_at is not None:
                # No key was ever fetched and the next try waits for the refresh
                # interval: still unavailable (a retry may succeed), not "unknown".
                raise KeysUnavailable("GitHub's keys have not been fetched yet")
        if key is None:
            raise SignatureError("unknown key identifier")
        return key

    def _fetch(self) -> dict[str, ec.EllipticCurvePublicKey]:
        try:
            document = json.loads(self.fetcher(self.url, self.timeout))
        except KeysUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - network, HTTP status, JSON: all "unavailable"
            raise KeysUnavailable(f"keys fetch failed: {type(error).__name__}") from None
        entries = document.get("public_keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailable("no public_keys in the key document")
        keys = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("key_identifier"), str):
                continue
            try:
                key = serialization.load_pem_public_key(str(entry.get("key", "")).encode())
            except (ValueError, TypeError):
                continue
            # P-256 only: the contract's curve, nothing weaker.
            if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
                keys[entry["key_identifier"]] = key
        return keys
