"""Operators' CLI: the directory (users, organizations, repositories,
grants) and bootstrap account tokens.

It uses the tables of a stage by the stage's own configuration: by default
the `dev` stage on the local endpoint of the running `make run` (found in
`.local/run.json`, whatever its ports); `--aws` for a deployed stage with
your AWS credentials.

    python manage.py create-user alice@example.com --name Alice
    python manage.py --aws --stage prod issue-token alice@example.com
"""
import functools
import sys

import click

from chalicelib.owner_key import OwnerKey
from chalicelib.repository_ref import RepositoryRef
from scripts import stage_env


class Context:
    def __init__(self, endpoint: str | None = None):
        self.endpoint = endpoint

    @property
    def admin(self):
        """The operators' service, from the composition root (built once the
        stage's environment is set)."""
        from chalicelib.wiring import root

        return root().admin


def run(action):
    """Run `action`, turning domain errors into a message and exit code 1."""
    from chalicelib.errors import LatchkeyError, Unavailable

    try:
        return action()
    except Unavailable as error:
        cause = error.__cause__
        context = click.get_current_context().find_object(Context)
        endpoint = context.endpoint if context else None
        where = (f"the local AWS endpoint {endpoint} is unreachable or failing" if endpoint
                 else "AWS is unreachable or failing")
        hint = "is `make run` running, or did you mean --aws?" if endpoint else "check your AWS credentials and region"
        raise click.ClickException(f"{where} ({type(cause).__name__}: {cause}); {hint}") from None
    except LatchkeyError as error:
        raise click.ClickException(error.message) from None


def repository_arguments(command):
    """The arguments PROVIDER ORG REPO, passed to `command` as one
    `repository` (a RepositoryRef)."""

    @click.argument("provider")
    @click.argument("org")
    @click.argument("repo")
    @functools.wraps(command)
    def with_repository(*args, provider, org, repo, **kwargs):
        return command(*args, repository=RepositoryRef(provider, org, repo), **kwargs)

    return with_repository


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--stage", default="dev", show_default=True, help="Chalice stage whose tables to use.")
@click.option("--aws", "use_aws", is_flag=True, help="Use real AWS, not the local endpoint of `make run`.")
@click.pass_context
def cli(ctx, stage, use_aws):
    """Latchkey's operators' CLI: users, organizations, repositories, grants and tokens.

    Locally it finds the running `make run` by itself (.local/run.json);
    AWS_ENDPOINT_URL or LOCAL_AWS_PORT override that.
    """
    ctx.obj = Context(stage_env.configure(stage, local=not use_aws))


@cli.command("create-user")
@click.argument("email")
@click.option("--name", help="Display name (default: the part before @).")
@click.pass_obj
def create_user(obj, email, name):
    """Create a user (email unique)."""
    user = run(lambda: obj.admin.create_user(email, name))
    click.echo(f"created user {user.email} (id {user.user_id})")


@cli.command("disable-user")
@click.argument("email")
@click.pass_obj
def disable_user(obj, email):
    """Disable a user and every account token of theirs (404 at their next use)."""
    count = run(lambda: obj.admin.disable_user(email))
    click.echo(f"disabled {email} and {count} account token(s)")


@cli.command("create-org")
@click.argument("provider")
@click.argument("org")
@click.option("--personal", is_flag=True, help="A user's personal account, not an organization (type Account).")
@click.pass_obj
def create_org(obj, provider, org, personal):
    """Create an organization (`create-org gh acme`; `--personal`: a user's own account)."""
    run(lambda: obj.admin.create_organization(provider, org, personal=personal))
    click.echo(f"created {'personal account' if personal else 'organization'} {provider}/{org}")


@cli.command("create-repo")
@repository_arguments
@click.option("--public", is_flag=True, help="Public on its provider (visibility Public; default Private).")
@click.pass_obj
def create_repo(obj, repository, public):
    """Create a repository in an existing organization (private unless `--public`)."""
    run(lambda: obj.admin.create_repository(repository, public=public))
    click.echo(f"created {'public' if public else 'private'} repository {repository}")


@cli.command("delete-repo")
@repository_arguments
@click.pass_obj
def delete_repo(obj, repository):
    """Delete a repository, its grants and its project tokens."""
    count = run(lambda: obj.admin.delete_repository(repository))
    click.echo(f"deleted repository {repository} and {count} project token(s)")


@cli.command("grant")
@click.argument("email")
@click.argument("target", metavar="PROVIDER/ORG[/REPO]")
@click.argument("role")
@click.pass_obj
def grant(obj, email, target, role):
    """Give a user a role on an organization or repository.

    Organization roles: admin, member. Repository roles: admin, write, read.
    """
    run(lambda: obj.admin.grant(email, target, role))
    click.echo(f"granted {role} on {target} to {email}")


@cli.command("revoke-access")
@click.argument("email")
@click.argument("target", metavar="PROVIDER/ORG[/REPO]")
@click.pass_obj
def revoke_access(obj, email, target):
    """Remove a user's grant on an organization or repository."""
    run(lambda: obj.admin.revoke_access(email, target))
    click.echo(f"revoked {email}'s access to {target}")


@cli.command("issue-token")
@click.argument("email")
@click.option("--name", help="Token name: letters, digits and dashes.")
@click.option("--expires-in", "expires_in", type=click.IntRange(min=1), metavar="DAYS",
              help="Expire after DAYS days (at most 365).")
@click.pass_obj
def issue_token(obj, email, name, expires_in):
    """Mint an account token; prints only the token."""
    created = run(lambda: obj.admin.issue_token(email, name, expires_in))
    click.echo(created.value)



@cli.command("set-analysis-config")
@repository_arguments
@click.argument("file", metavar="FILE.json", type=click.File("rb"))
@click.pass_obj
def set_analysis_config(obj, repository, file):
    """Replace a repository's analysis configuration with FILE.json ("-": stdin).

    The shape the analysis CLI reads at /2.0/project/analysis/configuration:
    {"ignoredPaths": [{"value": "vendor/"}], "projectExtensions": [{"language":
    "Python", "extensions": [".py"]}], "toolConfiguration": [{"uuid": ...,
    "isEnabled": true, "patterns": [...]}]} (see docs/uploads.md).
    """
    import json

    from chalicelib.analysis_config import MAX_BODY_BYTES

    raw = file.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise click.ClickException(f"{file.name}: larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{file.name}: not valid JSON ({error})") from None
    configuration = run(lambda: obj.admin.set_analysis_configuration(repository, body))
    click.echo(f"set the analysis configuration of {repository}: "
               f"{len(configuration['ignoredPaths'])} ignored path(s), "
               f"{len(configuration['projectExtensions'])} language extension(s), "
               f"{len(configuration['toolConfiguration'])} tool(s)")


@cli.command("sweep")
@click.pass_obj
def sweep(obj):
    """Run the daily sweep now: expiry notices (7 days ahead) and, with
    STALE_TOKEN_DAYS set, revoking unused tokens. Safe to run again."""
    import logging

    from chalicelib.wiring import root

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("botocore", "pynamodb", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report = run(lambda: root().sweeper.sweep())
    click.echo(f"sweep: {report.summary()}")


@cli.command("enable-user")
@click.argument("email")
@click.option("--with-tokens", is_flag=True,
              help="Also re-enable their unexpired account tokens (default: they stay disabled; issue new ones).")
@click.pass_obj
def enable_user(obj, email, with_tokens):
    """Enable a disabled user again."""
    count = run(lambda: obj.admin.enable_user(email, with_tokens=with_tokens))
    tokens = f" and {count} account token(s)" if with_tokens else "; their account tokens stay disabled"
    click.echo(f"enabled {email}{tokens}")


@cli.command("list-users")
@click.pass_obj
def list_users(obj):
    """Every user: id, email, name, state (scans the directory table)."""
    users = run(obj.admin.users)
    for user in users:
        state = "disabled" if user.disabled else "enabled"
        click.echo(f"{int(user.user_id)}\t{user.email}\t{user.name}\t{state}")
    if not users:
        click.echo("no users", err=True)


def _when(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


@cli.command("list-tokens")
@click.argument("email")
@click.pass_obj
def list_tokens(obj, email):
    """A user's account tokens: id, name, hint, created, expires, last used, state (never the token)."""
    tokens = run(lambda: obj.admin.user_tokens(email))
    click.echo("id\tname\thint\tcreated\texpires\tlast_used\tstate")
    for token in tokens:
        state = "disabled" if token.disabled else "active"
        click.echo("\t".join([str(int(token.token_id)), token.name or "-", token.hint, _when(token.created_at),
                              _when(token.expires_at), _when(token.last_used_at), state]))


@cli.command("revoke-token")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
@click.pass_obj
def revoke_token(obj, token_id):
    """Revoke any token (account or project) by its id: 404 at its next use."""
    token = run(lambda: obj.admin.revoke_token(token_id))
    click.echo(f"revoked token {token_id} ({token.hint}, {OwnerKey.parse(token.owner).kind.value} token)")


@cli.command("delete-org")
@click.argument("provider")
@click.argument("org")
@click.pass_obj
def delete_org(obj, provider, org):
    """Delete an organization with its grants and every repository in it (their grants and project tokens)."""
    repositories, tokens = run(lambda: obj.admin.delete_organization(provider, org))
    click.echo(f"deleted organization {provider}/{org}, {repositories} repositories and {tokens} project token(s)")


@cli.command("issue-project-token")
@click.argument("target", metavar="PROVIDER/ORG/REPO")
@click.option("--name", help="Token name: letters, digits and dashes.")
@click.option("--expires-in", "expires_in", type=click.IntRange(min=1), metavar="DAYS",
              help="Expire after DAYS days (at most 365).")
@click.pass_obj
def issue_project_token(obj, target, name, expires_in):
    """Mint a project token for a repository; prints only the token."""
    created = run(lambda: obj.admin.issue_project_token(target, name, expires_in))
    click.echo(created.value)


if __name__ == "__main__":
    sys.exit(cli())
