"""An OpenID Connect issuer on 127.0.0.1 for tests: RSA keys generated here,
a discovery document and a JWKS served over real HTTP, and `mint()` to sign
ID tokens with them (or to forge ones that must be refused)."""
import base64
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import JsonHandler, JsonServer


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str, alg: str | None = "RS256") -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, use="sig")
    if alg:
        jwk["alg"] = alg
    return jwk


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalIssuer(JsonServer):
    """Start with `start()`, stop with `stop()` (or use as a context manager).

    `issuer` is its URL (`http://127.0.0.1:<port>`); `requests` counts the
    fetches per path; `keys` maps kid -> private key, all published unless
    listed in `unpublished`.
    """

    def __init__(self, path: str = ""):
        self.keys = {"key-1": rsa_key()}
        self.unpublished: set[str] = set()
        self.requests: dict[str, int] = {}
        self.path = path
        self.fail = False
        super().__init__(self._handler())
        self.issuer = f"http://127.0.0.1:{self.port}{path}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    def jwks(self) -> dict:
        return {"keys": [public_jwk(key, kid) for kid, key in self.keys.items() if kid not in self.unpublished]}

    def add_key(self, kid: str, publish: bool = True):
        self.keys[kid] = rsa_key()
        if not publish:
            self.unpublished.add(kid)
        return self.keys[kid]

    def fetches(self, suffix: str) -> int:
        return sum(n for path, n in self.requests.items() if path.endswith(suffix))

    def mint(self, claims: dict | None = None, *, kid: str = "key-1", alg: str = "RS256", key=None,
             headers: dict | None = None, drop: tuple = (), lifetime: int = 300, now: float | None = None) -> str:
        """A signed JWT with sensible OIDC claims (iss, aud=latchkey, iat, nbf, exp, jti), overridden by `claims`."""
        now = time.time() if now is None else now
        body = {"iss": self.issuer, "aud": "latchkey", "sub": "test", "iat": int(now), "nbf": int(now),
                "exp": int(now) + lifetime, "jti": str(uuid.uuid4())}
        body.update(claims or {})
        for name in drop:
            body.pop(name, None)
        signing_key = key if key is not None else self.keys[kid]
        return jwt.encode(body, signing_key, algorithm=alg, headers={"kid": kid, **(headers or {})})

    def _handler(self):
        issuer = self

        class Handler(JsonHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                issuer.requests[self.path] = issuer.requests.get(self.path, 0) + 1
                if issuer.fail:
                    return self.send_json(503, {"error": "down"})
                if self.path == issuer.path + "/.well-known/openid-configuration":
                    return self.send_json(200, {"issuer": issuer.issuer, "jwks_uri": issuer.jwks_uri,
                                                "id_token_signing_alg_values_supported": ["RS256"]})
                if self.path == issuer.path + "/jwks":
                    return self.send_json(200, issuer.jwks())
                return self.send_json(404, {"error": "not found"})

        return Handler
