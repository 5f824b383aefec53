"""`make deploy` and `make package`: the command line over `infra/`.

    python scripts/deploy.py package --stage prod [--domain-name ... --certificate-arn ...]
    python scripts/deploy.py deploy --stage dev [--path stack|chalice]
    python scripts/deploy.py unlock --stage dev

`package` writes one SAM template (`infra.package`) for `aws cloudformation
deploy`; `deploy` runs the stage's path, `infra.deploy_stack` (one
CloudFormation stack, the default) or `infra.deploy_chalice` (`chalice
deploy` and the steps around it), whose docstrings number their steps.
docs/deployment.md says when to use which.
"""
import sys
from pathlib import Path

import click

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from infra.deploy import Deployer  # noqa: E402
from infra.deploy_chalice import ChaliceDeployer, chalice_path  # noqa: E402
from infra.deploy_stack import deploy_stack  # noqa: E402
from infra.package import package_stage  # noqa: E402
from infra.stage import domain_note, prepare, say, with_domain  # noqa: E402

DOMAIN_OPTIONS = [
    click.option("--domain-name", envvar="DOMAIN_NAME", default=None,
                 help="Serve the stage at the root of this host (a regional custom domain)."),
    click.option("--certificate-arn", envvar="CERTIFICATE_ARN", default=None,
                 help="ACM certificate for --domain-name, in the stage's region."),
]


def domain_options(command):
    for option in reversed(DOMAIN_OPTIONS):
        command = option(command)
    return command


@click.group()
def cli():
    """Deploy or package a latchkey stage."""


@cli.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=PROJECT_DIR)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: build/<stage>).",
)
@domain_options
def package(stage, project_dir, out_dir, domain_name, certificate_arn):
    """Write one CloudFormation/SAM template for the whole stage."""
    prepared = with_domain(prepare(stage, project_dir.resolve()), domain_name, certificate_arn)
    template = package_stage(prepared, (out_dir or project_dir / "build" / stage).resolve())
    click.echo(f"wrote {template} (deploy with: aws cloudformation package/deploy, see docs/deployment.md)")
    if prepared.domain:
        from infra.domain import certificate_region

        say("domain", f"the template serves the stage at the root of {prepared.domain[0]}; deploy it in "
                      f"{certificate_region(prepared.domain[1])}, the certificate's region (a regional domain)")
    domain_note(prepared)


@cli.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=PROJECT_DIR)
@domain_options
@click.option("--path", "path", type=click.Choice(["stack", "chalice"]), default="stack", show_default=True,
              help="stack: one CloudFormation stack from `chalice package`; chalice: `chalice deploy` "
                   "(docs/deployment.md).")
def deploy(stage, project_dir, domain_name, certificate_arn, path):
    """Create or update everything the stage needs; print its API URL."""
    prepared = with_domain(prepare(stage, project_dir.resolve()), domain_name, certificate_arn)
    Deployer(prepared).refuse_certificate_of_another_region()
    domain_note(prepared)
    if path == "stack":
        deploy_stack(prepared, (project_dir / "build" / stage).resolve())
        return
    deployer = ChaliceDeployer(prepared)
    with deployer.lock():
        chalice_path(deployer)


@cli.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=PROJECT_DIR)
def unlock(stage, project_dir):
    """Remove a stage's deploy lock left by a deploy that died."""
    Deployer(prepare(stage, project_dir.resolve())).lock().release()


if __name__ == "__main__":
    cli()
