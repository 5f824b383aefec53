"""A real OpenID Connect provider for development, on 127.0.0.1 only.

`make run` starts it beside the API (port `LOCAL_IDP_PORT`, default 8001)
and points the console at it with the same settings a deployed stage uses
for Cognito (`OIDC_ISSUER`, `OIDC_CLIENT_ID`): the console cannot tell the
difference. It serves discovery, JWKS, an authorization endpoint (a page
with an **Email** field and a **Sign in** button: whoever types an address
is signed in as it, verified; latchkey then decides whether that address
is one of its users) and a token endpoint that checks the PKCE verifier
(S256 only), the client, the redirect URI, and takes each code once.

Its RSA key is generated at first start and kept with the local state
(`.local/idp-key.pem`), so sessions and tokens survive a restart.
"""
import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "latchkey-console"
CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def load_or_create_key(path: Path):
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key


def public_jwk(key, kid: str) -> dict:
    numbers = key.public_key().public_numbers()

    def encode(number: int) -> str:
        return _b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": encode(numbers.n), "e": encode(numbers.e)}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - development identity provider</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Development identity provider</h1>
<p>Signs in as any email address: latchkey decides whether that address is one of its users.</p>
{error}
<form method="post" action="/authorize">
{hidden}
<p><label for="email">Email</label><br>
<input id="email" name="email" type="email" autocomplete="username" required autofocus></p>
<p><button type="submit">Sign in</button></p>
</form></main></body></html>
"""


class LocalIdP:
    def __init__(self, key_path: Path, port: int, *, client_id: str = CLIENT_ID, redirect_prefix: str = ""):
        self.key = load_or_create_key(key_path)
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:16]
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.client_id = client_id
        # Only redirect URIs under this prefix (the console's callback) are accepted.
        self.redirect_prefix = redirect_prefix
        self.codes: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # -- the protocol, without HTTP (the tests call these too) -------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "email"],
            "grant_types_supported": ["authorization_code"],
        }

    def jwks(self) -> dict:
        return {"keys": [public_jwk(self.key, self.kid)]}

    def check_request(self, params: dict) -> str | None:
        """What is wrong with an authorization request, or None."""
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if not params.get("redirect_uri", "").startswith(self.redirect_prefix):
            return "redirect_uri not registered for this client"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        return None

    def issue_code(self, params: dict, email: str) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = {
                "client_id": params["client_id"], "redirect_uri": params["redirect_uri"],
                "challenge": params["code_challenge"], "nonce": params.get("nonce"),
                "email": email.strip().lower(), "expires": time.time() + CODE_SECONDS,
            }
        return code

    def token(self, form: dict) -> tuple[int, dict]:
        """The token endpoint: (status, JSON body)."""
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)  # a code is taken once
        if grant is None or grant["expires"] < time.time():
            return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
        if form.get("client_id") != grant["client_id"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "client or redirect_uri mismatch"}
        verifier = form.get("code_verifier") or ""
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        if not 43 <= len(verifier) <= 128 or not secrets.compare_digest(challenge, grant["challenge"]):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": grant["client_id"], "sub": "local|" + grant["email"],
            "email": grant["email"], "email_verified": True, "iat": now, "exp": now + ID_TOKEN_SECONDS,
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        kind = "Bearer"  # the OAuth token type, not a secret  # nosec B105
        return 200, {"id_token": id_token, "access_token": secrets.token_urlsafe(32), "token_type": kind,
                     "expires_in": ID_TOKEN_SECONDS}

    # -- HTTP ---------------------------------------------------------------

    def start(self) -> "LocalIdP":
        handler = type("Handler", (IdPRequestHandler,), {"idp": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class IdPRequestHandler(BaseHTTPRequestHandler):
    """The provider's pages and endpoints over HTTP (`idp`: set by `LocalIdP.start`)."""

    idp: LocalIdP

    def log_message(self, *args):  # quiet: make run prints its own lines
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; form-action 'self' http://127.0.0.1:*; frame-ancestors 'none'")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: dict):
        self._send(status, json.dumps(body).encode(), "application/json")

    def _form(self) -> dict:
        length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
        return {k: v[-1] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}

    def _page(self, params: dict, error: str = "", status: int = 200):
        hidden = "\n".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items() if k != "email")
        notice = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        self._send(status, PAGE.format(hidden=hidden, error=notice).encode(), "text/html; charset=utf-8")

    def _bad_request(self, problem: str):
        self._send(400, html.escape(problem).encode(), "text/plain; charset=utf-8")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            return self._json(200, self.idp.discovery())
        if url.path == "/jwks":
            return self._json(200, self.idp.jwks())
        if url.path == "/authorize":
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            problem = self.idp.check_request(params)
            return self._bad_request(problem) if problem else self._page(params)
        return self._json(404, {"error": "not found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        form = self._form()
        if url.path == "/token":
            status, body = self.idp.token(form)
            return self._json(status, body)
        if url.path == "/authorize":
            return self._sign_in(form)
        return self._json(404, {"error": "not found"})

    def _sign_in(self, form: dict):
        """The sign-in form posted: back to the client with a code, or the form again."""
        problem = self.idp.check_request(form)
        if problem:
            return self._bad_request(problem)
        email = form.get("email", "").strip()
        if "@" not in email or len(email) > 254:
            return self._page(form, "Enter an email address.", 400)
        code = self.idp.issue_code(form, email)
        query = urllib.parse.urlencode({"code": code, "state": form.get("state", "")})
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return self._send(302, b"", "text/plain", {"Location": form["redirect_uri"] + separator + query})
