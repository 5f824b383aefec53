import pytest

from chalicelib.access import Action, Principal, Role, check_repository, effective_role, require_account
from chalicelib.errors import Forbidden, NotFound
from chalicelib.repository_ref import RepositoryRef
from chalicelib.token_format import Kind

WIDGETS = RepositoryRef("gh", "acme", "widgets")
ACCOUNT = Principal(Kind.ACCOUNT, token_id=1, user_id=7)
PROJECT = Principal(Kind.PROJECT, token_id=2, repository=WIDGETS.with_id(5))


@pytest.mark.parametrize(
    "org_role, repo_role, expected",
    [
        ("admin", None, Role.ADMIN),
        ("admin", "read", Role.ADMIN),
        ("member", None, None),
        (None, "read", Role.READ),
        (None, "write", Role.WRITE),
        ("member", "admin", Role.ADMIN),
        (None, None, None),
    ],
)
def test_effective_role(org_role, repo_role, expected):
    assert effective_role(org_role, repo_role) == expected


@pytest.mark.parametrize(
    "role, action, outcome",
    [
        (None, Action.READ, NotFound),
        (Role.READ, Action.READ, None),
        (Role.READ, Action.UPLOAD, Forbidden),
        (Role.WRITE, Action.UPLOAD, None),
        (Role.WRITE, Action.MANAGE_TOKENS, Forbidden),
        (Role.ADMIN, Action.MANAGE_TOKENS, None),
    ],
)
def test_check_repository_account(role, action, outcome):
    if outcome is None:
        check_repository(ACCOUNT, WIDGETS, role, action)
    else:
        with pytest.raises(outcome):
            check_repository(ACCOUNT, WIDGETS, role, action)


def test_check_repository_project_token_only_its_repository():
    check_repository(PROJECT, WIDGETS, None, Action.UPLOAD)
    check_repository(PROJECT, WIDGETS, None, Action.READ)
    with pytest.raises(NotFound):
        check_repository(PROJECT, RepositoryRef("gh", "acme", "gadgets"), None, Action.READ)
    with pytest.raises(Forbidden, match="project tokens cannot manage tokens"):
        check_repository(PROJECT, WIDGETS, None, Action.MANAGE_TOKENS)


def test_require_account():
    assert require_account(ACCOUNT) == 7
    with pytest.raises(Forbidden):
        require_account(PROJECT)


@pytest.mark.parametrize("principal", [ACCOUNT, PROJECT, Principal(Kind.PROJECT, token_id=3, repository=WIDGETS)])
def test_principal_context_round_trip_as_strings(principal):
    context = principal.to_context()
    assert all(isinstance(value, str) for value in context.values())
    assert Principal.from_context(context) == principal


def test_principal_context_names_the_repository_and_its_id():
    assert PROJECT.to_context() == {"kind": "project", "tokenId": "2", "repository": "gh/acme/widgets",
                                    "repositoryId": "5"}
    assert PROJECT.repository_id == 5 and ACCOUNT.repository_id is None


def test_check_repository_project_token_by_name_whatever_the_id():
    # The id is the directory's to compare (DirectoryService.repository): here, names.
    check_repository(PROJECT, WIDGETS.with_id(6), None, Action.READ)
