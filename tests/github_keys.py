"""GitHub's secret-scanning key endpoint on 127.0.0.1, with ECDSA P-256 keys
generated here, and `sign()` as GitHub signs a report: ECDSA with SHA-256
over the raw body bytes, base64 DER in `Github-Public-Key-Signature`, the
key's id in `Github-Public-Key-Identifier` (GitHub's partner program docs)."""
import base64
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import JsonHandler, JsonServer


def p256_key():
    return ec.generate_private_key(ec.SECP256R1())


def pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class LocalGithubKeys(JsonServer):
    def __init__(self):
        self.keys = {"key-a": p256_key()}
        self.unpublished: set[str] = set()
        self.fetches = 0
        self.fail = False
        owner = self

        class Handler(JsonHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                owner.fetches += 1
                self.send_json(503 if owner.fail else 200, {"public_keys": [
                    {"key_identifier": kid, "key": pem(key), "is_current": True}
                    for kid, key in owner.keys.items() if kid not in owner.unpublished]})

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/meta/public_keys/secret_scanning"

    def sign(self, body: bytes, kid: str = "key-a", key=None) -> dict:
        signing_key = key if key is not None else self.keys[kid]
        signature = signing_key.sign(body, ec.ECDSA(hashes.SHA256()))
        return {"Github-Public-Key-Identifier": kid,
                "Github-Public-Key-Signature": base64.b64encode(signature).decode(),
                "content-type": "application/json"}


def report(*tokens, url="https://github.com/acme/widgets/blob/abc/ci.env", source="content") -> bytes:
    """A report body as GitHub sends it (a JSON array)."""
    return json.dumps([{"token": t, "type": "latchkey_token", "url": url, "source": source} for t in tokens]).encode()
