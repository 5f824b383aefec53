"""The create transaction's failures each get their own answer (the
cancellation reasons come back in PynamoDB's item order, not call order)."""
import pytest

from chalicelib.errors import NotFound
from chalicelib.repository_ref import RepositoryRef

USER_TOKENS = "/api/v3/user/tokens"


def test_token_store_limit_reached_is_409(api, make, monkeypatch):
    import dataclasses

    from chalicelib import wiring

    tokens = wiring.root().tokens
    monkeypatch.setattr(tokens, "settings", dataclasses.replace(tokens.settings, max_account_tokens=2))
    token = make.user().token()  # 1 of 2
    assert api.post(USER_TOKENS, token, body={"name": "a"})[0] == 200
    assert api.post(USER_TOKENS, token, body={"name": "b"}) == (409, {"error": "token limit reached: at most 2 tokens"})


def test_token_store_name_taken_is_409(api, make):
    token = make.user().token()
    assert api.post(USER_TOKENS, token, body={"name": "ci"})[0] == 200
    assert api.post(USER_TOKENS, token, body={"name": "ci"}) == (
        409, {"error": "name: a token named 'ci' already exists"})


def test_token_store_owner_disabled_meanwhile_is_not_found(make, admin):
    alice = make.user()
    user = admin.user(alice.email)
    from chalicelib.models.directory import User

    User.get(user.pk, user.sk).update(actions=[User.disabled.set(True)])
    with pytest.raises(NotFound):
        admin.tokens.issue_account_token(user)  # the stale copy still says enabled


def test_token_store_repository_deleted_meanwhile_is_not_found(make, admin):
    make.repo()
    owner = make.user().grant("gh/acme", "admin")
    from chalicelib.models.directory import Repository, org_key, repo_sort_key

    service = admin.tokens
    real = service.directory.repository

    def then_deleted(*args, **kwargs):
        access = real(*args, **kwargs)
        Repository.get(org_key("gh", "acme"), repo_sort_key("widgets")).delete()
        return access

    service.directory.repository = then_deleted
    with pytest.raises(NotFound):
        service.create_project_token(owner.principal(), RepositoryRef("gh", "acme", "widgets"))
