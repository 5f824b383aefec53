"""Operators' CLI: the directory (users, organizations, repositories,
grants) and bootstrap account tokens.

It uses the tables of a stage by the stage's own configuration: by default
the `dev` stage on the local endpoint of `make run`; `--aws` for a deployed
stage with your AWS credentials.

    python manage.py create-user alice@example.com --name Alice
    python manage.py --aws --stage prod issue-token alice@example.com
"""
import sys

import click

from scripts import stage_env


class Context:
    def __init__(self):
        self._admin = None

    @property
    def admin(self):
        if self._admin is None:
            from chalicelib.services.admin import AdminService

            self._admin = AdminService()
        return self._admin


def run(action):
    """Run `action`, turning domain errors into a message and exit code 1."""
    from chalicelib.errors import LatchkeyError, Unavailable

    try:
        return action()
    except Unavailable as error:
        cause = error.__cause__
        raise click.ClickException(f"AWS is unreachable or failing ({type(cause).__name__}: {cause}); "
                                   "is `make run` running, or did you mean --aws?") from None
    except LatchkeyError as error:
        raise click.ClickException(error.message) from None


@click.group()
@click.option("--stage", default="dev", show_default=True, help="Chalice stage whose tables to use.")
@click.option("--aws", "use_aws", is_flag=True, help="Use real AWS, not the local endpoint of `make run`.")
@click.pass_context
def cli(ctx, stage, use_aws):
    stage_env.configure(stage, local=not use_aws)
    ctx.obj = Context()


@cli.command("create-user")
@click.argument("email")
@click.option("--name", help="Display name (default: the part before @).")
@click.pass_obj
def create_user(obj, email, name):
    user = run(lambda: obj.admin.create_user(email, name))
    click.echo(f"created user {user.email} (id {user.user_id})")


@cli.command("disable-user")
@click.argument("email")
@click.pass_obj
def disable_user(obj, email):
    count = run(lambda: obj.admin.disable_user(email))
    click.echo(f"disabled {email} and {count} account token(s)")


@cli.command("create-org")
@click.argument("provider")
@click.argument("org")
@click.option("--personal", is_flag=True, help="A user's personal account, not an organization (type Account).")
@click.pass_obj
def create_org(obj, provider, org, personal):
    run(lambda: obj.admin.create_organization(provider, org, personal=personal))
    click.echo(f"created {'personal account' if personal else 'organization'} {provider}/{org}")


@cli.command("create-repo")
@click.argument("provider")
@click.argument("org")
@click.argument("repo")
@click.option("--public", is_flag=True, help="Public on its provider (visibility Public; default Private).")
@click.pass_obj
def create_repo(obj, provider, org, repo, public):
    run(lambda: obj.admin.create_repository(provider, org, repo, public=public))
    click.echo(f"created {'public' if public else 'private'} repository {provider}/{org}/{repo}")


@cli.command("delete-repo")
@click.argument("provider")
@click.argument("org")
@click.argument("repo")
@click.pass_obj
def delete_repo(obj, provider, org, repo):
    count = run(lambda: obj.admin.delete_repository(provider, org, repo))
    click.echo(f"deleted repository {provider}/{org}/{repo} and {count} project token(s)")


@cli.command("grant")
@click.argument("email")
@click.argument("target", metavar="PROVIDER/ORG[/REPO]")
@click.argument("role")
@click.pass_obj
def grant(obj, email, target, role):
    """Organization roles: admin, member. Repository roles: admin, write, read."""
    run(lambda: obj.admin.grant(email, target, role))
    click.echo(f"granted {role} on {target} to {email}")


@cli.command("revoke-access")
@click.argument("email")
@click.argument("target", metavar="PROVIDER/ORG[/REPO]")
@click.pass_obj
def revoke_access(obj, email, target):
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
@click.argument("provider")
@click.argument("org")
@click.argument("repo")
@click.argument("file", metavar="FILE.json", type=click.File("rb"))
@click.pass_obj
def set_analysis_config(obj, provider, org, repo, file):
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
    configuration = run(lambda: obj.admin.set_analysis_configuration(provider, org, repo, body))
    click.echo(f"set the analysis configuration of {provider}/{org}/{repo}: "
               f"{len(configuration['ignoredPaths'])} ignored path(s), "
               f"{len(configuration['projectExtensions'])} language extension(s), "
               f"{len(configuration['toolConfiguration'])} tool(s)")
@cli.command("sweep")
@click.pass_obj
def sweep(obj):
    """Run the daily sweep now: expiry notices (7 days ahead) and, with
    STALE_TOKEN_DAYS set, revoking unused tokens. Safe to run again."""
    import logging

    from chalicelib.services import sweeper

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("botocore", "pynamodb", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report = run(sweeper.run)
    click.echo(f"sweep: {report.summary()}")


if __name__ == "__main__":
    sys.exit(cli())
