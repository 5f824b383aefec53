import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import token_format
from chalicelib.token_format import Kind


@pytest.mark.parametrize("kind, prefix", [(Kind.ACCOUNT, "lka_"), (Kind.PROJECT, "lkp_")])
def test_generate_has_prefix_length_and_valid_checksum(kind, prefix):
    token = token_format.generate(kind)
    assert token.startswith(prefix)
    assert len(token) == token_format.TOKEN_LENGTH == 37
    assert set(token[4:]) <= set(string.ascii_letters + string.digits)
    assert token_format.parse(token) is kind


def test_generate_carries_at_least_160_bits():
    assert 62 ** token_format.BODY_LENGTH >= 2**160


def test_generate_is_random():
    assert len({token_format.generate(Kind.ACCOUNT) for _ in range(1000)}) == 1000


def _flip(token, index):
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1:]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "lka_",
        "not a token",
        "ghp_" + "a" * 33,
        "lkx_" + "a" * 33,
        None,
        12345,
    ],
)
def test_parse_rejects_garbage(raw):
    assert token_format.parse(raw) is None


def test_parse_rejects_every_single_character_change():
    token = token_format.generate(Kind.PROJECT)
    for index in range(4, len(token)):
        assert token_format.parse(_flip(token, index)) is None, index


def test_parse_rejects_wrong_length_and_foreign_characters():
    token = token_format.generate(Kind.ACCOUNT)
    assert token_format.parse(token + "a") is None
    assert token_format.parse(token[:-1]) is None
    assert token_format.parse(token[:10] + "-" + token[11:]) is None
    assert token_format.parse(token.replace("lka_", "lkp_")) is None  # checksum covers the prefix


@given(st.text(max_size=60))
def test_parse_never_raises(raw):
    assert token_format.parse(raw) in (None, Kind.ACCOUNT, Kind.PROJECT)


def test_digest_is_sha256_hex_and_never_the_token():
    token = token_format.generate(Kind.ACCOUNT)
    digest = token_format.digest(token)
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert token not in digest and token[4:] not in digest


def test_hint_shows_prefix_and_last_four_only():
    token = token_format.generate(Kind.PROJECT)
    assert token_format.hint(token) == f"lkp_...{token[-4:]}"


def test_redact_replaces_anything_token_shaped():
    account, project = token_format.generate(Kind.ACCOUNT), token_format.generate(Kind.PROJECT)
    text = f"/api/v3/user/tokens/{account}?x={project}"
    assert token_format.redact(text) == "/api/v3/user/tokens/<token>?x=<token>"
    assert token_format.redact("/api/v3/user/tokens/123") == "/api/v3/user/tokens/123"
