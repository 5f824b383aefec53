"""RepositoryRef: a repository's name and immutable id, parsed and printed one way."""
from dataclasses import FrozenInstanceError
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chalicelib.repository_ref import PROVIDERS, RepositoryRef

PARSED = [
    ("gh/acme/widgets", ("gh", "acme", "widgets")),
    ("gl/some-group/my_repo.2", ("gl", "some-group", "my_repo.2")),
    ("bbe/A1/.github", ("bbe", "A1", ".github")),
]
NOT_THREE_PARTS = ["", "gh", "gh/acme", "gh/acme/", "/acme/widgets", "gh//widgets", "gh/acme/widgets/x",
                   "gh/acme/widgets/", "gh/acme/a/b"]


class TestParse:
    @pytest.mark.parametrize(("text", "path"), PARSED)
    def test_parse_splits_the_three_parts(self, text, path):
        ref = RepositoryRef.parse(text)
        assert ref.path == path
        assert (ref.provider, ref.org, ref.name, ref.id) == (*path, None)

    @pytest.mark.parametrize(("text", "path"), PARSED)
    def test_parse_prints_back_to_its_text(self, text, path):
        assert str(RepositoryRef.parse(text)) == RepositoryRef.parse(text).full_name == text

    def test_parse_with_id_carries_it(self):
        assert RepositoryRef.parse("gh/acme/widgets", id=7) == RepositoryRef("gh", "acme", "widgets", 7)

    @pytest.mark.parametrize("text", NOT_THREE_PARTS)
    def test_parse_refuses_anything_but_three_non_empty_parts(self, text):
        with pytest.raises(ValueError, match="expected PROVIDER/ORG/REPO"):
            RepositoryRef.parse(text)

    @pytest.mark.parametrize("text", [None, 7, b"gh/acme/widgets"])
    def test_parse_refuses_a_non_string(self, text):
        with pytest.raises(ValueError, match="expected PROVIDER/ORG/REPO"):
            RepositoryRef.parse(text)


class TestOf:
    def test_of_takes_a_stored_repositorys_name_and_id(self):
        item = SimpleNamespace(provider="gh", owner="acme", name="widgets", repository_id=Decimal(42))
        ref = RepositoryRef.of(item)
        assert ref == RepositoryRef("gh", "acme", "widgets", 42)
        assert type(ref.id) is int

    def test_of_a_directory_item(self):
        from chalicelib.models.directory import DeletedRepository, Repository

        for model in (Repository, DeletedRepository):
            item = model(provider="gh", owner="acme", name="widgets", repository_id=3.0)
            assert RepositoryRef.of(item) == RepositoryRef("gh", "acme", "widgets", 3)


class TestNames:
    def test_full_name_organization_and_path(self):
        ref = RepositoryRef("gh", "acme", "widgets", 5)
        assert ref.full_name == "gh/acme/widgets"
        assert ref.organization == "gh/acme"
        assert ref.path == ("gh", "acme", "widgets")

    def test_str_is_the_name_without_the_id(self):
        assert str(RepositoryRef("gh", "acme", "widgets", 5)) == "gh/acme/widgets"
        assert f"{RepositoryRef('gh', 'acme', 'widgets')}" == "gh/acme/widgets"


class TestIdentity:
    def test_equal_only_when_the_ids_agree(self):
        assert RepositoryRef("gh", "acme", "widgets", 1) == RepositoryRef("gh", "acme", "widgets", 1)
        # A repository created again under an old name is another repository.
        assert RepositoryRef("gh", "acme", "widgets", 1) != RepositoryRef("gh", "acme", "widgets", 2)
        assert RepositoryRef("gh", "acme", "widgets", 1) != RepositoryRef("gh", "acme", "widgets")

    def test_id_is_an_int_whatever_number_type_it_arrives_as(self):
        refs = {RepositoryRef("gh", "acme", "widgets", i) for i in (3, 3.0, Decimal("3"))}
        assert refs == {RepositoryRef("gh", "acme", "widgets", 3)}
        assert all(type(ref.id) is int for ref in refs)

    def test_same_name_ignores_the_ids(self):
        assert RepositoryRef("gh", "acme", "widgets", 1).same_name(RepositoryRef("gh", "acme", "widgets", 2))
        assert RepositoryRef("gh", "acme", "widgets").same_name(RepositoryRef("gh", "acme", "widgets", 2))

    @pytest.mark.parametrize("other", [("gl", "acme", "widgets"), ("gh", "acme2", "widgets"), ("gh", "acme", "w")])
    def test_same_name_compares_every_part(self, other):
        assert not RepositoryRef("gh", "acme", "widgets").same_name(RepositoryRef(*other))

    def test_names_are_case_sensitive(self):
        assert not RepositoryRef("gh", "acme", "widgets").same_name(RepositoryRef("gh", "Acme", "widgets"))

    def test_with_id_resolves_the_name(self):
        named = RepositoryRef("gh", "acme", "widgets")
        resolved = named.with_id(9)
        assert resolved == RepositoryRef("gh", "acme", "widgets", 9)
        assert named.id is None  # a value: the original is unchanged

    def test_frozen(self):
        ref = RepositoryRef("gh", "acme", "widgets")
        with pytest.raises(FrozenInstanceError):
            ref.name = "other"  # type: ignore[misc]

    def test_hashable_as_a_key(self):
        assert {RepositoryRef("gh", "acme", "widgets", 1): "x"}[RepositoryRef("gh", "acme", "widgets", 1)] == "x"


class TestInOrganization:
    @pytest.mark.parametrize(("provider", "org", "inside"), [
        ("gh", "acme", True), ("gl", "acme", False), ("gh", "acme2", False), ("gh", "Acme", False),
    ])
    def test_in_organization(self, provider, org, inside):
        assert RepositoryRef("gh", "acme", "widgets").in_organization(provider, org) is inside


class TestIsValid:
    @pytest.mark.parametrize("provider", PROVIDERS)
    def test_is_valid_for_every_provider(self, provider):
        assert RepositoryRef(provider, "acme", "widgets").is_valid()

    @pytest.mark.parametrize("path", [
        ("github", "acme", "widgets"), ("GH", "acme", "widgets"), ("", "acme", "widgets"),
        ("gh", "bad name!", "widgets"), ("gh", "acme", ".."), ("gh", ".", "widgets"), ("gh", "acme", "a/b"),
        ("gh", "acme", ""), ("gh", "x" * 101, "widgets"), ("gh", "acme", "a%20b"),
    ])
    def test_is_valid_refuses_what_latchkey_cannot_hold(self, path):
        # Path parameters arrive as they come: building the ref never raises,
        # the route answers 404 for it (chalicelib.names).
        assert not RepositoryRef(*path).is_valid()

    @pytest.mark.parametrize(("text", "path"), PARSED)
    def test_a_valid_ref_round_trips(self, text, path):
        ref = RepositoryRef(*path)
        assert ref.is_valid() and RepositoryRef.parse(str(ref)) == ref
