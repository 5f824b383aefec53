"""Console sign-in: the ID token checks (`chalicelib.oidc`, on the shared
`chalicelib.jwt_verify`) with keys generated here and served on 127.0.0.1,
and the development provider's token endpoint (`scripts/local_idp.py`):
every forgery and every protocol mistake is refused."""
import time
import urllib.parse

import jwt
import pytest
import requests

from chalicelib import oidc
from scripts.local_idp import LocalIdP
from tests.oidc_issuer import LocalIssuer, b64url, public_pem

CLIENT = "latchkey-console"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture
def issuer():
    with LocalIssuer() as local:
        yield local


def mint(issuer, claims=None, **kwargs):
    base = {"aud": CLIENT, "nonce": NONCE, "email": "alice@example.com", "email_verified": True}
    return issuer.mint({**base, **(claims or {})}, **kwargs)


def verify(issuer, token, nonce=NONCE):
    # A fresh verifier each time: no key cached from another test.
    oidc.verifier.cache_clear()
    return oidc.verify_id_token(token, issuer=issuer.issuer, client_id=CLIENT, nonce=nonce,
                                jwks_uri=issuer.jwks_uri)


def refused(issuer, token, nonce=NONCE) -> str:
    with pytest.raises(oidc.SignInError) as caught:
        verify(issuer, token, nonce)
    return caught.value.message


def test_a_good_id_token_gives_the_verified_email(issuer):
    claims = verify(issuer, mint(issuer))
    assert oidc.verified_email(claims) == "alice@example.com"


def test_an_unverified_email_maps_to_nobody(issuer):
    assert oidc.verified_email(verify(issuer, mint(issuer, {"email_verified": False}))) is None
    assert oidc.verified_email(verify(issuer, mint(issuer, {"email_verified": "false"}))) is None


def test_wrong_audience_is_refused(issuer):
    assert "audience" in refused(issuer, mint(issuer, {"aud": "another-client"}))
    assert "audience" in refused(issuer, mint(issuer, {"aud": [CLIENT, "another-client"]}))


def test_wrong_issuer_is_refused(issuer):
    assert "issuer" in refused(issuer, mint(issuer, {"iss": "https://evil.example"}))


def test_expired_is_refused_past_the_leeway(issuer):
    old = time.time() - 600
    assert "expired" in refused(issuer, mint(issuer, now=old, lifetime=300))
    # Within the leeway (a clock a few seconds off) it still passes.
    verify(issuer, mint(issuer, now=time.time() - 310, lifetime=300))


def test_unknown_kid_is_refused(issuer):
    key = issuer.add_key("key-2", publish=False)
    assert "unknown key id" in refused(issuer, mint(issuer, kid="key-2", key=key))


def test_a_new_key_is_picked_up_on_an_unknown_kid(issuer):
    oidc.verifier.cache_clear()
    checker = oidc.verifier(issuer.issuer, CLIENT, issuer.jwks_uri)
    oidc.verify_id_token(mint(issuer), issuer=issuer.issuer, client_id=CLIENT, nonce=NONCE,
                         jwks_uri=issuer.jwks_uri, token_verifier=checker)
    issuer.add_key("key-2")  # the issuer rotates
    checker._keys.fetched_at = 0  # past the refetch interval
    claims = oidc.verify_id_token(mint(issuer, kid="key-2"), issuer=issuer.issuer, client_id=CLIENT,
                                  nonce=NONCE, jwks_uri=issuer.jwks_uri, token_verifier=checker)
    assert claims["email"] == "alice@example.com"


def test_alg_swapped_to_hs256_with_the_public_key_as_secret_is_refused(issuer):
    body = {"iss": issuer.issuer, "aud": CLIENT, "sub": "x", "iat": int(time.time()),
            "exp": int(time.time()) + 300, "nonce": NONCE, "email": "alice@example.com", "email_verified": True}
    import hashlib
    import hmac
    import json

    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    payload = b64url(json.dumps(body).encode())
    signature = hmac.new(public_pem(issuer.keys["key-1"]), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert "algorithm" in refused(issuer, f"{head}.{payload}.{b64url(signature)}")


def test_alg_none_is_refused(issuer):
    token = jwt.encode({"iss": issuer.issuer, "aud": CLIENT, "sub": "x", "iat": int(time.time()),
                        "exp": int(time.time()) + 300, "nonce": NONCE}, None, algorithm="none",
                       headers={"kid": "key-1"})
    assert "algorithm" in refused(issuer, token)


def test_bad_or_missing_nonce_is_refused(issuer):
    assert "nonce" in refused(issuer, mint(issuer, {"nonce": "another-sign-in"}))
    assert "nonce" in refused(issuer, mint(issuer, drop=("nonce",)))


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(issuer):
    from tests.oidc_issuer import rsa_key

    assert "signature" in refused(issuer, mint(issuer, key=rsa_key()))


# -- the development provider: PKCE, codes, clients ----------------------------------

@pytest.fixture
def idp(tmp_path):
    provider = LocalIdP(tmp_path / "idp-key.pem", 0, client_id=CLIENT,
                        redirect_prefix="http://127.0.0.1:9/console/callback").start()
    yield provider
    provider.stop()


def authorize(idp, challenge, email="alice@example.com", **extra) -> str:
    """Sign in at the provider's page (a form POST) and return the code it redirects with."""
    form = {"response_type": "code", "client_id": CLIENT, "redirect_uri": "http://127.0.0.1:9/console/callback",
            "scope": "openid email", "state": "s1", "nonce": NONCE, "code_challenge": challenge,
            "code_challenge_method": "S256", "email": email, **extra}
    answer = requests.post(idp.issuer + "/authorize", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def token(idp, code, verifier, **extra):
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT,
            "redirect_uri": "http://127.0.0.1:9/console/callback", "code_verifier": verifier, **extra}
    form = {k: v for k, v in form.items() if v is not None}
    return requests.post(idp.issuer + "/token", data=form, timeout=10)


def test_the_provider_serves_discovery_and_a_verifiable_id_token(idp):
    provider = oidc.discover.__wrapped__(idp.issuer)
    assert provider.token_endpoint == idp.issuer + "/token"
    verifier, challenge = oidc.pkce_pair()
    answer = token(idp, authorize(idp, challenge), verifier)
    assert answer.status_code == 200
    oidc.verifier.cache_clear()
    claims = oidc.verify_id_token(answer.json()["id_token"], issuer=idp.issuer, client_id=CLIENT, nonce=NONCE,
                                  jwks_uri=provider.jwks_uri)
    assert oidc.verified_email(claims) == "alice@example.com"


def test_a_replayed_code_is_refused(idp):
    verifier, challenge = oidc.pkce_pair()
    code = authorize(idp, challenge)
    assert token(idp, code, verifier).status_code == 200
    replay = token(idp, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_a_missing_pkce_verifier_is_refused(idp):
    _, challenge = oidc.pkce_pair()
    answer = token(idp, authorize(idp, challenge), None)
    assert answer.status_code == 400 and "PKCE" in answer.json()["error_description"]


def test_a_wrong_pkce_verifier_is_refused(idp):
    _, challenge = oidc.pkce_pair()
    other, _ = oidc.pkce_pair()
    answer = token(idp, authorize(idp, challenge), other)
    assert answer.status_code == 400 and "PKCE" in answer.json()["error_description"]


def test_a_code_for_another_client_or_redirect_is_refused(idp):
    verifier, challenge = oidc.pkce_pair()
    assert token(idp, authorize(idp, challenge), verifier, client_id="someone").status_code == 400
    verifier, challenge = oidc.pkce_pair()
    assert token(idp, authorize(idp, challenge), verifier,
                 redirect_uri="http://127.0.0.1:9/elsewhere").status_code == 400


def test_the_provider_refuses_plain_pkce_unknown_clients_and_foreign_redirects(idp):
    base = {"response_type": "code", "client_id": CLIENT, "redirect_uri": "http://127.0.0.1:9/console/callback",
            "scope": "openid email", "state": "s", "nonce": "n", "code_challenge": "abc",
            "code_challenge_method": "S256"}
    assert requests.get(idp.issuer + "/authorize", params=base, timeout=10).status_code == 200
    for change in ({"code_challenge_method": "plain"}, {"code_challenge": ""}, {"client_id": "other"},
                   {"redirect_uri": "https://evil.example/cb"}, {"scope": "email"}):
        assert requests.get(idp.issuer + "/authorize", params={**base, **change}, timeout=10).status_code == 400


def test_the_provider_keeps_its_key_across_restarts(tmp_path):
    first = LocalIdP(tmp_path / "k.pem", 0)
    second = LocalIdP(tmp_path / "k.pem", 0)
    assert first.kid == second.kid and first.jwks() == second.jwks()
    assert oct((tmp_path / "k.pem").stat().st_mode)[-3:] == "600"


def test_pkce_pair_is_s256():
    verifier, challenge = oidc.pkce_pair()
    assert 43 <= len(verifier) <= 128
    import base64
    import hashlib

    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
