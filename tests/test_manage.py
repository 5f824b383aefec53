"""The operators' CLI, run the way an operator runs it (click's runner, moto tables)."""
import pytest
from click.testing import CliRunner

from chalicelib import token_format
from chalicelib.token_format import Kind


@pytest.fixture
def cli(aws, monkeypatch):
    import manage

    # The tables are moto's, in this process: no endpoint to point at.
    monkeypatch.setattr("scripts.stage_env.configure", lambda stage, local: None)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(manage.cli, list(args), catch_exceptions=False)

    return run


def test_bootstrap_flow(cli, admin):
    assert cli("create-user", "ops@example.com", "--name", "Ops").exit_code == 0
    assert cli("create-org", "gh", "acme").exit_code == 0
    assert cli("create-repo", "gh", "acme", "widgets").exit_code == 0
    assert cli("grant", "ops@example.com", "gh/acme", "admin").exit_code == 0
    assert cli("grant", "ops@example.com", "gh/acme/widgets", "read").exit_code == 0
    result = cli("issue-token", "ops@example.com", "--name", "bootstrap", "--expires-in", "30")
    assert result.exit_code == 0
    token = result.output.strip()
    assert token_format.parse(token) is Kind.ACCOUNT
    assert result.output == token + "\n"  # only the token on stdout
    assert admin.user("ops@example.com").name == "Ops"


def test_revoke_access_and_delete_repo(cli, admin):
    cli("create-user", "ops@example.com")
    cli("create-org", "gh", "acme")
    cli("create-repo", "gh", "acme", "widgets")
    cli("grant", "ops@example.com", "gh/acme/widgets", "write")
    assert cli("revoke-access", "ops@example.com", "gh/acme/widgets").exit_code == 0
    assert cli("revoke-access", "ops@example.com", "gh/acme/widgets").exit_code == 1
    result = cli("delete-repo", "gh", "acme", "widgets")
    assert result.exit_code == 0 and "0 project token(s)" in result.output
    assert admin.store.repository("gh", "acme", "widgets") is None


def test_disable_user_disables_tokens(cli):
    cli("create-user", "ops@example.com")
    cli("issue-token", "ops@example.com")
    result = cli("disable-user", "ops@example.com")
    assert result.exit_code == 0 and "1 account token(s)" in result.output
    result = cli("issue-token", "ops@example.com")
    assert result.exit_code == 1 and "disabled" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("create-user", "not-an-email"), "email"),
        (("create-org", "xx", "acme"), "provider"),
        (("create-repo", "gh", "nope", "widgets"), "no organization gh/nope"),
        (("grant", "ops@example.com", "gh/acme", "write"), "organization roles are admin, member"),
        (("grant", "ops@example.com", "gh/acme/widgets", "member"), "repository roles are read, write, admin"),
        (("grant", "ops@example.com", "gh", "admin"), "target"),
        (("grant", "nobody@example.com", "gh/acme", "admin"), "no user nobody@example.com"),
        (("grant", "ops@example.com", "gh/acme/nope", "read"), "no repository gh/acme/nope"),
        (("revoke-access", "ops@example.com", "gh/acme/x/y"), "target"),
        (("delete-repo", "gh", "acme", "nope"), "no repository"),
        (("disable-user", "nobody@example.com"), "no user"),
        (("issue-token", "ops@example.com", "--name", "bad name"), "name"),
        (("issue-token", "ops@example.com", "--expires-in", "0"), "expires-in"),
        (("issue-token", "ops@example.com", "--expires-in", "400"), "expiresAt"),
        (("create-user", "ops@example.com"), "already exists"),
        (("create-org", "gh", "acme"), "already exists"),
    ],
)
def test_bad_input_is_a_clear_error_and_exit_1(cli, args, message):
    cli("create-user", "ops@example.com")
    cli("create-org", "gh", "acme")
    result = CliRunner().invoke(__import__("manage").cli, list(args))
    assert result.exit_code != 0
    assert message in result.output


def test_seed_makes_an_admin_with_a_token_of_each_kind(admin):
    account, project = admin.seed("demo@example.com", "Demo", "gh", "demo", "hello")
    assert token_format.parse(account.value) is Kind.ACCOUNT
    assert token_format.parse(project.value) is Kind.PROJECT
    repository = admin.store.repository("gh", "demo", "hello")
    assert project.token.owner == f"repo#{int(repository.repository_id)}" and project.token.name == "demo"
    assert project.token.repository == "gh/demo/hello"
    assert admin.store.snapshot(admin.user("demo@example.com").user_id, "gh", "demo", "hello").repo_role == "admin"


def test_personal_account_and_public_repository(cli, admin):
    result = cli("create-org", "gh", "alice", "--personal")
    assert result.exit_code == 0 and "created personal account gh/alice" in result.output
    result = cli("create-repo", "gh", "alice", "dotfiles", "--public")
    assert result.exit_code == 0 and "created public repository gh/alice/dotfiles" in result.output
    assert cli("create-org", "gh", "acme").output == "created organization gh/acme\n"
    assert cli("create-repo", "gh", "acme", "widgets").output == "created private repository gh/acme/widgets\n"
    assert admin.store.organization("gh", "alice").personal is True
    assert admin.store.organization("gh", "acme").personal is False
    assert admin.store.repository("gh", "alice", "dotfiles").public is True
    assert admin.store.repository("gh", "acme", "widgets").public is False
