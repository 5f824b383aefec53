"""The operators' CLI, run the way an operator runs it (click's runner, moto tables)."""
import pytest
from click.testing import CliRunner

from chalicelib import token_format
from chalicelib.repository_ref import RepositoryRef
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
    assert admin.store.repository(RepositoryRef("gh", "acme", "widgets")) is None


def test_disable_user_disables_tokens(cli):
    cli("create-user", "ops@example.com")
    cli("issue-token", "ops@example.com")
    result = cli("disable-user", "ops@example.com")
    assert result.exit_code == 0 and "1 account token(s)" in result.output
    result = cli("issue-token", "ops@example.com")
    assert result.exit_code == 1 and "disabled" in result.output


def test_disable_user_counts_only_the_tokens_it_disabled(cli):
    cli("create-user", "ops@example.com")
    cli("issue-token", "ops@example.com")
    cli("issue-token", "ops@example.com")
    assert "2 account token(s)" in cli("disable-user", "ops@example.com").output
    # Run again (a fan-out that failed half-way is resumed this way): nothing
    # was left to disable, and the message says so.
    result = cli("disable-user", "ops@example.com")
    assert result.exit_code == 0 and "disabled ops@example.com and 0 account token(s)" in result.output


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
    hello = RepositoryRef("gh", "demo", "hello")
    account, project = admin.seed("demo@example.com", "Demo", hello)
    assert token_format.parse(account.value) is Kind.ACCOUNT
    assert token_format.parse(project.value) is Kind.PROJECT
    repository = admin.store.repository(hello)
    assert project.token.owner == f"repo#{int(repository.repository_id)}" and project.token.name == "demo"
    assert project.token.repository == "gh/demo/hello"
    assert admin.store.snapshot(admin.user("demo@example.com").user_id, hello).repo_role == "admin"


def test_personal_account_and_public_repository(cli, admin):
    result = cli("create-org", "gh", "alice", "--personal")
    assert result.exit_code == 0 and "created personal account gh/alice" in result.output
    result = cli("create-repo", "gh", "alice", "dotfiles", "--public")
    assert result.exit_code == 0 and "created public repository gh/alice/dotfiles" in result.output
    assert cli("create-org", "gh", "acme").output == "created organization gh/acme\n"
    assert cli("create-repo", "gh", "acme", "widgets").output == "created private repository gh/acme/widgets\n"
    assert admin.store.organization("gh", "alice").personal is True
    assert admin.store.organization("gh", "acme").personal is False
    assert admin.store.repository(RepositoryRef("gh", "alice", "dotfiles")).public is True
    assert admin.store.repository(RepositoryRef("gh", "acme", "widgets")).public is False
# -- the operators' everyday commands ------------------------------------------------


def _setup_repo(cli):
    cli("create-user", "ops@example.com", "--name", "Ops")
    cli("create-org", "gh", "acme")
    cli("create-repo", "gh", "acme", "widgets")
    cli("grant", "ops@example.com", "gh/acme/widgets", "admin")


def test_every_command_has_help_text(monkeypatch):
    import manage

    monkeypatch.setattr("scripts.stage_env.configure", lambda stage, local: None)
    assert manage.cli.help
    for name, command in manage.cli.commands.items():
        assert command.help and command.get_short_help_str(), name
        result = CliRunner().invoke(manage.cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_list_users_shows_every_user_and_its_state(cli):
    cli("create-user", "b@example.com", "--name", "Bee")
    cli("create-user", "a@example.com")
    cli("disable-user", "b@example.com")
    result = cli("list-users")
    assert result.exit_code == 0
    rows = [line.split("\t") for line in result.output.splitlines()]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("a@example.com", "a", "enabled"), ("b@example.com", "Bee", "disabled")]
    assert all(r[0].isdigit() for r in rows)


def test_list_tokens_shows_ids_and_hints_never_the_token(cli):
    cli("create-user", "ops@example.com")
    first = cli("issue-token", "ops@example.com", "--name", "ci").output.strip()
    second = cli("issue-token", "ops@example.com", "--expires-in", "7").output.strip()
    result = cli("list-tokens", "ops@example.com")
    assert result.exit_code == 0
    header, *rows = [line.split("\t") for line in result.output.splitlines()]
    assert header == ["id", "name", "hint", "created", "expires", "last_used", "state"]
    assert [r[1] for r in rows] == ["ci", "-"] and [r[6] for r in rows] == ["active", "active"]
    assert rows[0][4] == "-" and rows[1][4] != "-"
    assert first not in result.output and second not in result.output
    assert rows[0][2] == token_format.hint(first)
    assert cli("list-tokens", "nobody@example.com").exit_code == 1


def test_revoke_token_by_id_makes_it_unknown(cli, admin):
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore

    cli("create-user", "ops@example.com")
    token = cli("issue-token", "ops@example.com").output.strip()
    (row,) = cli("list-tokens", "ops@example.com").output.splitlines()[1:]
    token_id = row.split("\t")[0]
    result = cli("revoke-token", token_id)
    assert result.exit_code == 0 and f"revoked token {token_id}" in result.output, result.output
    assert TokenStore(get_settings()).find(token_format.digest(token)) is None
    again = CliRunner().invoke(__import__("manage").cli, ["revoke-token", token_id])
    assert again.exit_code == 1 and f"no token with id {token_id}" in again.output


def test_revoke_token_goes_on_the_trail_as_an_operators_revocation(cli, admin):
    from chalicelib.models.audit import user_stream

    cli("create-user", "ops@example.com")
    cli("issue-token", "ops@example.com")
    (row,) = cli("list-tokens", "ops@example.com").output.splitlines()[1:]
    token_id = int(row.split("\t")[0])
    assert cli("revoke-token", str(token_id)).exit_code == 0
    user_id = int(admin.user("ops@example.com").user_id)
    events = admin.tokens.audit.page(user_stream(user_id), limit=10, cursor=None).items
    revoked = [e for e in events if e.action == "token.revoked"]
    assert [(int(e.token_id), e.actor, e.reason, e.user_agent) for e in revoked] == [
        (token_id, "operator", "revoked by an operator", "latchkey-manage")]


def test_enable_user_restores_the_user_and_only_on_request_their_tokens(cli, admin):
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore

    cli("create-user", "ops@example.com")
    token = cli("issue-token", "ops@example.com").output.strip()
    cli("disable-user", "ops@example.com")
    result = cli("enable-user", "ops@example.com")
    assert result.exit_code == 0 and "stay disabled" in result.output
    assert admin.user("ops@example.com").disabled is False
    assert TokenStore(get_settings()).find(token_format.digest(token)).disabled is True
    assert token_format.parse(cli("issue-token", "ops@example.com").output.strip()) is Kind.ACCOUNT
    cli("disable-user", "ops@example.com")
    result = cli("enable-user", "ops@example.com", "--with-tokens")
    assert result.exit_code == 0 and "2 account token(s)" in result.output
    assert TokenStore(get_settings()).find(token_format.digest(token)).disabled is False


def test_issue_project_token_for_a_repository(cli, admin):
    _setup_repo(cli)
    result = cli("issue-project-token", "gh/acme/widgets", "--name", "ci", "--expires-in", "30")
    assert result.exit_code == 0
    token = result.output.strip()
    assert token_format.parse(token) is Kind.PROJECT and result.output == token + "\n"
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore

    stored = TokenStore(get_settings()).find(token_format.digest(token))
    repository_id = int(admin.store.repository(RepositoryRef("gh", "acme", "widgets")).repository_id)
    assert stored.owner == f"repo#{repository_id}" and stored.name == "ci" and stored.expires_at is not None


def test_delete_org_deletes_its_repositories_grants_and_project_tokens(cli, admin):
    from chalicelib.settings import get_settings
    from chalicelib.store.tokens import TokenStore

    _setup_repo(cli)
    cli("create-repo", "gh", "acme", "gadgets")
    cli("grant", "ops@example.com", "gh/acme", "member")
    token = cli("issue-project-token", "gh/acme/widgets").output.strip()
    cli("create-org", "gh", "other")
    result = cli("delete-org", "gh", "acme")
    assert result.exit_code == 0 and "2 repositories and 1 project token(s)" in result.output, result.output
    assert admin.store.organization("gh", "acme") is None
    assert admin.store.repository(RepositoryRef("gh", "acme", "widgets")) is None
    assert TokenStore(get_settings()).find(token_format.digest(token)) is None
    user = admin.user("ops@example.com")
    assert admin.store.grants_of(int(user.user_id)) == []
    assert admin.store.organization("gh", "other") is not None
    again = CliRunner().invoke(__import__("manage").cli, ["delete-org", "gh", "acme"])
    assert again.exit_code == 1 and "no organization gh/acme" in again.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("issue-project-token", "gh/acme"), "PROVIDER/ORG/REPO"),
        (("issue-project-token", "gh/acme/nope"), "no repository gh/acme/nope"),
        (("delete-org", "xx", "acme"), "provider"),
        (("enable-user", "nobody@example.com"), "no user"),
        (("revoke-token", "0"), "ID"),
        (("revoke-token", "abc"), "ID"),
    ],
)
def test_new_commands_refuse_bad_input_clearly(cli, args, message):
    result = CliRunner().invoke(__import__("manage").cli, list(args))
    assert result.exit_code != 0 and message in result.output, result.output


def test_an_unreachable_endpoint_is_named_in_the_error(monkeypatch, tmp_path):
    """No moto in this process: the CLI's own configuration, aimed at a closed port."""
    import manage
    from scripts.ports import free_port

    port = free_port()
    for name in ("AWS_ENDPOINT_URL", "LOCAL_AWS_PORT"):  # set, then removed: restored afterwards
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOCAL_AWS_PORT", str(port))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setattr("chalicelib.services.admin.AdminService.users",
                        lambda self: (_ for _ in ()).throw(__import__("chalicelib.errors").errors.Unavailable()))
    result = CliRunner().invoke(manage.cli, ["list-users"])
    assert result.exit_code == 1
    assert f"http://127.0.0.1:{port} (LOCAL_AWS_PORT)" in result.output and "make run" in result.output


@pytest.mark.parametrize("target, parsed", [
    ("gh/acme", ("gh", "acme", None)),
    ("gl/acme/widgets", ("gl", "acme", ("gl", "acme", "widgets"))),
])
def test_parse_target_names_an_organization_or_a_repository(target, parsed):
    from chalicelib.services.admin import parse_target

    provider, org, repository = parse_target(target)
    assert (provider, org, repository.path if repository else None) == parsed


@pytest.mark.parametrize("target, message", [
    ("gh", "target: expected PROVIDER/ORG"), ("gh/", "target: expected"), ("/acme", "target: expected"),
    ("gh/acme/", "target: expected"), ("gh//widgets", "target: expected"), ("gh/a/b/c", "target: expected"),
    ("xx/acme", "provider: one of"), ("xx/acme/widgets", "provider: one of"),
])
def test_parse_target_refuses_anything_else(target, message):
    from chalicelib.errors import BadRequest
    from chalicelib.services.admin import parse_target

    with pytest.raises(BadRequest, match=message):
        parse_target(target)
