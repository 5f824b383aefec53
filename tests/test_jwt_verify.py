"""chalicelib.jwt_verify against an issuer on 127.0.0.1 with keys generated here."""
import base64
import hashlib
import hmac
import json

import jwt
import pytest

from chalicelib.jwt_verify import Issuer, JWTVerificationError, JWTVerifier, KeysUnavailable, http_get, peek_issuer
from tests.oidc_issuer import LocalIssuer, b64url, public_pem, rsa_key


@pytest.fixture
def idp():
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture
def verifier(idp, clock):
    return JWTVerifier(Issuer(idp.issuer, "latchkey"), clock=clock, leeway_seconds=30)


def reason(verifier, token, **kwargs) -> str:
    with pytest.raises(JWTVerificationError) as caught:
        verifier.verify(token, **kwargs)
    return caught.value.reason


def test_a_good_token_gives_its_claims(idp, verifier, clock):
    token = idp.mint({"sub": "repo:acme/widgets"}, now=clock.now.timestamp())
    claims = verifier.verify(token)
    assert claims["sub"] == "repo:acme/widgets"
    assert claims["iss"] == idp.issuer
    assert idp.fetches("/openid-configuration") == 1 and idp.fetches("/jwks") == 1
    verifier.verify(idp.mint(now=clock.now.timestamp()))
    assert idp.fetches("/jwks") == 1  # cached


def test_wrong_audience_and_issuer_are_refused(idp, verifier, clock):
    now = clock.now.timestamp()
    assert reason(verifier, idp.mint({"aud": "someone-else"}, now=now)) == "wrong audience"
    assert reason(verifier, idp.mint({"aud": ["latchkey", "other"]}, now=now)) == "wrong audience"
    assert reason(verifier, idp.mint({"aud": "latchkeyx"}, now=now)) == "wrong audience"
    assert reason(verifier, idp.mint({"iss": idp.issuer + "/"}, now=now)) == "wrong issuer"
    assert reason(verifier, idp.mint({"iss": "https://token.actions.githubusercontent.com"}, now=now)) == "wrong issuer"
    assert reason(verifier, idp.mint(drop=("aud",), now=now)) == "missing claim: aud"


def test_expiry_and_not_before_with_leeway(idp, verifier, clock):
    token = idp.mint(lifetime=60, now=clock.now.timestamp())
    clock.advance(60 + 29)
    assert verifier.verify(token)  # within the 30 s leeway
    clock.advance(2)
    assert reason(verifier, token) == "expired"
    later = idp.mint(now=clock.now.timestamp() + 120)
    assert reason(verifier, later) == "issued in the future"
    future_nbf = idp.mint({"nbf": int(clock.now.timestamp()) + 45}, now=clock.now.timestamp())
    assert reason(verifier, future_nbf) == "not yet valid"
    clock.advance(20)
    assert verifier.verify(future_nbf)
    assert reason(verifier, idp.mint(drop=("exp",), now=clock.now.timestamp())) == "missing claim: exp"
    assert reason(verifier, idp.mint(drop=("iat",), now=clock.now.timestamp())) == "missing claim: iat"
    assert reason(verifier, idp.mint({"exp": "tomorrow"}, now=clock.now.timestamp())) == "malformed claim: exp"


def test_unknown_kid_refetches_at_most_once_a_minute(idp, verifier, clock):
    now = clock.now.timestamp
    verifier.verify(idp.mint(now=now()))
    assert idp.fetches("/jwks") == 1
    secret_key = idp.add_key("key-2", publish=False)
    assert reason(verifier, idp.mint(kid="key-2", key=secret_key, now=now())) == "unknown key id"
    assert idp.fetches("/jwks") == 1  # fetched less than a minute ago
    clock.advance(61)
    for _ in range(5):  # a flood of made-up kids: one refetch, not five
        assert reason(verifier, idp.mint(kid="key-2", key=secret_key, now=now())) == "unknown key id"
    assert idp.fetches("/jwks") == 2
    idp.unpublished.clear()  # the issuer rotates: key-2 appears
    assert reason(verifier, idp.mint(kid="key-2", now=now())) == "unknown key id"  # still inside the minute
    clock.advance(60)
    assert verifier.verify(idp.mint(kid="key-2", now=now()))
    assert idp.fetches("/jwks") == 3
    assert verifier.verify(idp.mint(kid="key-1", now=now()))
    assert idp.fetches("/jwks") == 3


def test_a_withdrawn_key_stops_being_trusted_after_the_cache_age(idp, clock):
    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey"), clock=clock, max_age_seconds=600)
    verifier.verify(idp.mint(now=clock.now.timestamp()))
    idp.add_key("key-2")
    idp.unpublished.add("key-1")
    clock.advance(601)
    assert reason(verifier, idp.mint(now=clock.now.timestamp())) == "unknown key id"


def test_alg_none_and_hs256_swaps_are_refused(idp, verifier, clock):
    good = idp.mint(now=clock.now.timestamp())
    _, payload, _ = good.split(".")
    unsigned_header = b64url(json.dumps({"alg": "none", "kid": "key-1", "typ": "JWT"}).encode())
    assert reason(verifier, f"{unsigned_header}.{payload}.") == "unsupported algorithm"
    # HS256 keyed with the issuer's public key (the classic confusion attack).
    hs_header = b64url(json.dumps({"alg": "HS256", "kid": "key-1", "typ": "JWT"}).encode())
    signing_input = f"{hs_header}.{payload}".encode()
    mac = hmac.new(public_pem(idp.keys["key-1"]), signing_input, hashlib.sha256).digest()
    assert reason(verifier, f"{hs_header}.{payload}.{b64url(mac)}") == "unsupported algorithm"
    # RS512 is a fine algorithm, but not the pinned one.
    assert reason(verifier, idp.mint(alg="RS512", now=clock.now.timestamp())) == "unsupported algorithm"


def test_bad_signatures_are_refused(idp, verifier, clock):
    now = clock.now.timestamp()
    forged = idp.mint(kid="key-1", key=rsa_key(), now=now)  # right kid, someone else's key
    assert reason(verifier, forged) == "bad signature"
    header, payload, signature = idp.mint(now=now).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "repo:evil/thing"
    tampered = b64url(json.dumps(claims).encode())
    assert reason(verifier, f"{header}.{tampered}.{signature}") == "bad signature"
    assert reason(verifier, f"{header}.{payload}.") == "bad signature"


def test_malformed_tokens(verifier):
    for token in ("", "abc", "a.b.c", "x" * 20_000, None, 42):
        assert reason(verifier, token) == "malformed"


def test_missing_kid_is_refused(idp, verifier, clock):
    token = jwt.encode({"iss": idp.issuer, "aud": "latchkey", "iat": 1, "exp": 2}, idp.keys["key-1"], "RS256")
    assert reason(verifier, token) == "missing key id"


def test_nonce(idp, verifier, clock):
    token = idp.mint({"nonce": "n-123"}, now=clock.now.timestamp())
    assert verifier.verify(token, nonce="n-123")["nonce"] == "n-123"
    assert reason(verifier, token, nonce="n-124") == "nonce mismatch"
    assert reason(verifier, idp.mint(now=clock.now.timestamp()), nonce="n-123") == "nonce mismatch"


def test_issuer_down_is_keys_unavailable(idp, clock):
    idp.fail = True
    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey"), clock=clock)
    with pytest.raises(KeysUnavailable):
        verifier.verify(idp.mint(now=clock.now.timestamp()))
    idp.fail = False
    with pytest.raises(KeysUnavailable):  # no refetch within the minute
        verifier.verify(idp.mint(now=clock.now.timestamp()))
    clock.advance(61)
    assert verifier.verify(idp.mint(now=clock.now.timestamp()))


def test_cached_keys_outlive_a_short_outage(idp, clock):
    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey"), clock=clock, max_age_seconds=600)
    verifier.verify(idp.mint(now=clock.now.timestamp()))
    idp.fail = True
    clock.advance(700)  # past the age limit, refresh fails: old keys still serve
    assert verifier.verify(idp.mint(now=clock.now.timestamp()))
    clock.advance(600)  # twice the age limit: no longer
    with pytest.raises(KeysUnavailable):
        verifier.verify(idp.mint(now=clock.now.timestamp()))


def test_discovery_naming_another_issuer_is_refused(idp, clock):
    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey", discovery_url=idp.issuer + "/nowhere"), clock=clock)
    with pytest.raises(KeysUnavailable):
        verifier.verify(idp.mint(now=clock.now.timestamp()))

    def fetcher(url, timeout):
        return json.dumps({"issuer": "https://evil.example", "jwks_uri": idp.jwks_uri}).encode()

    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey"), clock=clock, fetcher=fetcher)
    with pytest.raises(KeysUnavailable, match="another issuer"):
        verifier.verify(idp.mint(now=clock.now.timestamp()))


def test_injected_fetcher_and_direct_jwks_uri(idp, clock):
    seen = []

    def fetcher(url, timeout):
        seen.append((url, timeout))
        return http_get(url, timeout)

    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey", jwks_uri=idp.jwks_uri), clock=clock,
                           fetcher=fetcher, timeout_seconds=1.5)
    verifier.verify(idp.mint(now=clock.now.timestamp()))
    assert seen == [(idp.jwks_uri, 1.5)]


def test_jwks_entries_for_other_algorithms_are_skipped(idp, clock):
    def fetcher(url, timeout):
        jwks = idp.jwks()
        jwks["keys"][0]["alg"] = "RS512"
        return json.dumps(jwks).encode()

    verifier = JWTVerifier(Issuer(idp.issuer, "latchkey", jwks_uri=idp.jwks_uri), clock=clock, fetcher=fetcher)
    assert reason(verifier, idp.mint(now=clock.now.timestamp())) == "unknown key id"


def test_symmetric_algorithms_cannot_be_configured():
    for algorithms in (("HS256",), ("none",), ()):
        with pytest.raises(ValueError):
            JWTVerifier(Issuer("https://x.example", "latchkey", algorithms=algorithms))


def test_peek_issuer(idp):
    assert peek_issuer(idp.mint()) == idp.issuer
    with pytest.raises(JWTVerificationError):
        peek_issuer("nope")
    with pytest.raises(JWTVerificationError):
        peek_issuer(idp.mint(drop=("iss",)))


def test_http_get_follows_no_redirects_and_bounds_the_size():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/big")
                self.end_headers()
                return
            body = b"x" * (600 * 1024)
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(Exception) as redirected:
            http_get(base + "/moved", 2)
        assert "302" in str(redirected.value)
        with pytest.raises(KeysUnavailable, match="too large"):
            http_get(base + "/big", 2)
        with pytest.raises(KeysUnavailable, match="scheme"):
            http_get("file:///etc/passwd", 2)
    finally:
        server.shutdown()
        server.server_close()
