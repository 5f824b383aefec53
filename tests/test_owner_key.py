"""OwnerKey: the one spelling of owners and streams (`user#<id>`, `repo#<id>`)."""
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest

from chalicelib.owner_key import OwnerKey, OwnerKind

# What is stored today: these strings must never change (tokens, audit
# streams, uploads partitions and directory users are keyed by them).
STORED = [
    (OwnerKey.user(5), "user#5"),
    (OwnerKey.repository(7), "repo#7"),
    (OwnerKey.user(Decimal("12")), "user#12"),
    (OwnerKey.repository(3.0), "repo#3"),
    (OwnerKey.user(10**15), "user#1000000000000000"),
]
NOT_OWNERS = ["", "user", "user#", "repo#", "#5", "user5", "org#5", "User#5", "repo#widgets", "repo#gh/acme/widgets",
              "user#-1", "user#1.5", "user# 5", "user#5#x", "session#user#5", "user#٣", None, 5]


class TestBuild:
    @pytest.mark.parametrize(("key", "text"), STORED)
    def test_str_is_the_stored_spelling(self, key, text):
        assert str(key) == text

    def test_user_and_repository(self):
        assert OwnerKey.user(5) == OwnerKey(OwnerKind.USER, 5)
        assert OwnerKey.repository(5) == OwnerKey(OwnerKind.REPOSITORY, 5)
        assert OwnerKey.user(5) != OwnerKey.repository(5)

    def test_id_is_an_int(self):
        assert type(OwnerKey.user(Decimal("5")).id) is int
        assert type(OwnerKey.repository(5.0).id) is int

    def test_kinds(self):
        assert OwnerKey.user(1).is_user and not OwnerKey.user(1).is_repository
        assert OwnerKey.repository(1).is_repository and not OwnerKey.repository(1).is_user

    def test_frozen(self):
        with pytest.raises(FrozenInstanceError):
            OwnerKey.user(1).id = 2  # type: ignore[misc]


class TestParse:
    @pytest.mark.parametrize(("key", "text"), STORED)
    def test_parse_reads_back_what_it_printed(self, key, text):
        assert OwnerKey.parse(text) == key
        assert OwnerKey.find(text) == key

    @pytest.mark.parametrize("text", NOT_OWNERS)
    def test_parse_refuses_anything_else(self, text):
        with pytest.raises(ValueError, match="expected user#<id> or repo#<id>"):
            OwnerKey.parse(text)

    @pytest.mark.parametrize("text", NOT_OWNERS)
    def test_find_answers_none_for_anything_else(self, text):
        assert OwnerKey.find(text) is None

    def test_find_answers_none_for_a_name_keyed_repository_owner(self):
        # Tokens from before ids keyed owners name their repository: no id.
        assert OwnerKey.find("repo#widgets") is None


class TestSessions:
    def test_sessions_of_a_user(self):
        assert OwnerKey.user(5).sessions == "session#user#5"

    def test_a_repository_has_no_sessions(self):
        with pytest.raises(ValueError, match="only a user"):
            _ = OwnerKey.repository(5).sessions
