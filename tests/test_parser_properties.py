"""Property tests (hypothesis) for the token format and every parser of
request input: whatever arrives, each one answers a value or its one
domain error — never another exception (which would be a 500)."""
import json
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib import token_format
from chalicelib.api.http import json_body, json_object, pagination, path_id
from chalicelib.errors import BadRequest, NotFound, PayloadTooLarge
from chalicelib.services.tokens import parse_expiry, validate_name
from chalicelib.store.pagination import decode_cursor, encode_cursor
from chalicelib.token_format import Kind

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
                     st.lists(st.integers(), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=3))
kinds = st.sampled_from(list(Kind))


class FakeRequest:
    def __init__(self, raw_body=b"", query_params=None):
        self.raw_body = raw_body
        self.query_params = query_params


# -- token format --------------------------------------------------------------

@FAST
@given(kinds)
def test_token_format_generated_tokens_parse_as_their_kind(kind):
    token = token_format.generate(kind)
    assert token_format.parse(token) is kind
    assert len(token) == token_format.TOKEN_LENGTH and token.startswith(kind.prefix)
    assert token_format.hint(token) == f"{kind.prefix}...{token[-4:]}"
    assert len(token_format.digest(token)) == 64


@FAST
@given(kinds, st.data())
def test_token_format_any_single_character_change_is_rejected(kind, data):
    # The token comes from hypothesis, not `secrets`, so that replays draw alike.
    body = data.draw(st.text(alphabet=token_format.ALPHABET, min_size=27, max_size=27))
    token = kind.prefix + body + token_format.checksum(kind.prefix + body)
    assert token_format.parse(token) is kind
    position = data.draw(st.integers(token_format.PREFIX_LENGTH, len(token) - 1))
    replacement = data.draw(st.sampled_from(token_format.ALPHABET).filter(lambda c: c != token[position]))
    assert token_format.parse(token[:position] + replacement + token[position + 1:]) is None


@FAST
@given(kinds, st.data())
def test_token_format_truncated_or_extended_is_rejected(kind, data):
    token = token_format.generate(kind)
    cut = data.draw(st.integers(0, len(token) - 1))
    assert token_format.parse(token[:cut]) is None
    assert token_format.parse(token + data.draw(st.text(min_size=1, max_size=3))) is None


@FAST
@given(ANYTHING)
@example("lka_" + "0" * 33)
@example("lkp_" + "é" * 33)
def test_token_format_parse_never_raises(raw):
    kind = token_format.parse(raw)
    if kind is not None:
        assert raw[:-6] and token_format.checksum(raw[:-6]) == raw[-6:]


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + "_", max_size=60))
def test_token_format_checksum_is_six_base62_characters(text):
    check = token_format.checksum(text)
    assert len(check) == 6 and set(check) <= set(token_format.ALPHABET)


# -- pagination ----------------------------------------------------------------

@FAST
@given(st.text(max_size=300))
@example("e30")  # {}
@example("W10")  # []
@example("eyJhIjp7IlMiOjF9fQ")  # {"a":{"S":1}}
def test_cursor_decode_answers_a_key_or_bad_request(cursor):
    try:
        key = decode_cursor(cursor)
    except BadRequest as error:
        assert error.field == "cursor"
        return
    assert key is None or (isinstance(key, dict) and key)


@FAST
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.tuples(st.sampled_from(["S", "N"]), st.text(max_size=30)),
                       min_size=1, max_size=4))
def test_cursor_round_trips(raw):
    key = {name: {kind: value} for name, (kind, value) in raw.items()}
    assert decode_cursor(encode_cursor(key)) == key


@FAST
@given(st.dictionaries(st.sampled_from(["limit", "cursor", "other"]), st.text(max_size=12)))
@example({"limit": "²"})
@example({"limit": "\u0661\u0660"})  # Arabic-Indic "10"
def test_pagination_answers_limit_and_cursor_or_bad_request(params):
    try:
        limit, cursor = pagination(FakeRequest(query_params=params))
    except BadRequest as error:
        assert error.field == "limit"
        return
    assert 1 <= limit <= 100
    assert cursor == (params.get("cursor") or None)


# -- bodies --------------------------------------------------------------------

@FAST
@given(st.binary(max_size=200))
@example(b"[" * 100_000)
@example(b'{"a": NaN}')
@example(b"\xff\xfe")
def test_json_body_answers_json_or_a_domain_error(raw):
    try:
        json_body(FakeRequest(raw), max_bytes=150_000)
    except BadRequest as error:
        assert error.field == "body"


@FAST
@given(st.binary(min_size=11, max_size=40))
def test_json_body_over_the_limit_is_413(raw):
    with pytest.raises(PayloadTooLarge):
        json_body(FakeRequest(raw), max_bytes=10)


@FAST
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=10))
def test_json_object_answers_an_allowed_object_or_bad_request(value):
    try:
        body = json_object(FakeRequest(json.dumps(value).encode()), max_bytes=10_000, allowed={"name", "expiresAt"})
    except BadRequest:
        assert not isinstance(value, dict) or set(value) - {"name", "expiresAt"}
        return
    assert body == (value if value not in (None,) else {}) or body == {}
    assert set(body) <= {"name", "expiresAt"}


# -- token fields --------------------------------------------------------------

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@FAST
@given(st.one_of(st.text(max_size=80), st.datetimes(timezones=st.timezones()).map(datetime.isoformat), ANYTHING))
@example("9999-12-31T23:59:59-23:59")
@example("0001-01-01T00:00:00+23:59")
@example("2026-06-02")
def test_expires_at_answers_a_future_date_or_bad_request(value):
    try:
        expires_at = parse_expiry(value, NOW, 365)
    except BadRequest as error:
        assert error.field == "expiresAt"
        return
    assert expires_at is None or NOW < expires_at <= NOW + timedelta(days=365)
    assert expires_at is None or expires_at.tzinfo is not None


@FAST
@given(st.one_of(st.text(max_size=120), ANYTHING))
def test_name_is_letters_digits_dashes_or_bad_request(value):
    try:
        name = validate_name(value)
    except BadRequest as error:
        assert error.field == "name"
        return
    assert name is None or (1 <= len(name) <= 100 and set(name) <= set(string.ascii_letters + string.digits + "-"))


# -- path ids ------------------------------------------------------------------

@FAST
@given(st.one_of(st.text(max_size=20), st.integers(min_value=-10, max_value=2**60).map(str)))
@example("²")
@example("٣")
@example("0")
@example(str(2**53))
def test_path_id_answers_an_id_below_2_53_or_not_found(raw):
    try:
        token_id = path_id(raw)
    except NotFound:
        return
    assert 0 < token_id < 2**53 and str(token_id) == raw.lstrip("0")


# -- the defects these properties found, over HTTP ----------------------------

def test_limit_with_a_superscript_digit_is_400(api, make):
    status, body = api.get("/api/v3/user/tokens?limit=%C2%B2", make.user().token())
    assert (status, body) == (400, {"error": "limit: an integer from 1 to 100"})


def test_token_id_with_a_superscript_digit_is_404(api, make):
    status, body = api.delete("/api/v3/user/tokens/%C2%B2", make.user().token())
    assert (status, body) == (404, {"error": "not found"})


def test_expires_at_out_of_range_after_its_offset_is_400(api, make):
    status, body = api.post("/api/v3/user/tokens", make.user().token(), body={"expiresAt": "9999-12-31T23:59:59-23:59"})
    assert (status, body) == (400, {"error": "expiresAt: an ISO-8601 date-time is expected"})


def test_cursor_with_foreign_key_names_is_400(api, make):
    import base64

    token = make.user().token()
    forged = base64.urlsafe_b64encode(json.dumps({"x": {"S": "1"}}).encode()).decode().rstrip("=")
    status, body = api.get(f"/api/v3/user/tokens?cursor={forged}", token)
    assert (status, body) == (400, {"error": "cursor: not a cursor returned by this API"})


def test_cursor_pages_through_every_token_once(api, make):
    alice = make.user()
    token = alice.token()
    for _ in range(2):
        alice.token()
    seen, cursor = [], ""
    for _ in range(5):
        status, body = api.get(f"/api/v3/user/tokens?limit=1&cursor={cursor}", token)
        assert status == 200 and body["pagination"]["total"] == 3
        seen += [item["id"] for item in body["data"]]
        cursor = body["pagination"].get("cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 3


# -- upload file names and the analysis configuration (issue 9) ------------------

PATHS = st.text(alphabet="ab./\\:\x00 ", max_size=12)


@FAST
@given(st.one_of(PATHS, ANYTHING))
@example("/src/a.py")
@example(".\\src\\a.py")
def test_file_name_is_repository_relative_or_bad_request(value):
    from chalicelib.payloads.checks import file_name

    try:
        name = file_name(value, "filename")
    except BadRequest:
        return
    segments = name.split("/")
    assert "\\" not in name and "\x00" not in name
    assert all(segment not in ("", ".", "..") for segment in segments)
    assert file_name(name, "filename") == name  # normalised once, stable after


@FAST
@given(st.recursive(ANYTHING, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["ignoredPaths", "defaultIgnores", "projectExtensions", "toolConfiguration",
                                     "value", "language", "extensions", "uuid", "isEnabled", "notEdited",
                                     "patterns", "internalId", "parameters", "name"]), inner, max_size=4)),
    max_leaves=12))
def test_analysis_configuration_validates_or_bad_request(body):
    from chalicelib.analysis_config import validate

    try:
        stored = validate(body)
    except BadRequest:
        return
    assert validate(stored) == stored  # what is stored is accepted again unchanged
