"""Console cookies: pure functions, no I/O (the authorizer imports this).

A session secret is 256 random bits, URL-safe base64 (43 characters); the
browser holds it in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` over
HTTPS) and the service stores only its SHA-256 digest.
"""
import hashlib
import re
import secrets
from http.cookies import CookieError, SimpleCookie

SESSION_COOKIE = "latchkey_session"
SIGNIN_COOKIE = "latchkey_signin"
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def well_formed(secret: str | None) -> bool:
    return isinstance(secret, str) and _SECRET.fullmatch(secret) is not None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def cookie_values(headers: dict, multi: dict | None = None) -> dict[str, str]:
    """Every cookie of a request (`Cookie` headers in any case and count)."""
    raw: list[str] = []
    for source in (multi or {}, {k: [v] for k, v in (headers or {}).items()}):
        for name, values in source.items():
            if name.lower() == "cookie":
                raw.extend(v for v in values or () if isinstance(v, str))
    found: dict[str, str] = {}
    for header in raw:
        for part in header.split(";"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(part.strip())
            except CookieError:
                continue
            for key, morsel in jar.items():
                found.setdefault(key, morsel.value)
    return found


def set_cookie(name: str, value: str, *, secure: bool, path: str, max_age: int | None = None) -> str:
    """A `Set-Cookie` value; `max_age=0` deletes the cookie."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
