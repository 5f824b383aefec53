"""One stage of the app, as `make package` and `make deploy` see it.

The stage's settings are its `environment_variables` in `.chalice/config.json`
(a new stage is added there with its own `stage_names`); `prepare` makes
this process the stage's, so that `chalicelib.settings` and the models read
them, and `Stage` holds what the templates and deploys are generated from.
"""
import json
import os
import subprocess  # nosec B404 - runs the chalice CLI with arguments built here, never a shell
import sys
from pathlib import Path
from urllib.parse import urlparse

import click

from chalicelib.stage_names import stage_names

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class DeployError(click.ClickException):
    """A step refused or failed; the command line prints the message and exits 1."""


class StepSkipped(Exception):
    """A step the endpoint cannot perform (a local rehearsal only)."""


def say(step: str, message: str) -> None:
    click.echo(f"[{step}] {message}")


def is_local_endpoint() -> bool:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return bool(endpoint) and urlparse(endpoint).hostname in LOCAL_HOSTS


# -- stage configuration ------------------------------------------------------


def load_config(project_dir: Path) -> dict:
    return json.loads((project_dir / ".chalice" / "config.json").read_text())


def ensure_stage(project_dir: Path, stage: str) -> dict:
    """The stage's environment variables, adding a stage to config.json if new.

    A new stage gets its own `<app>-<stage>-*` names: without them it would
    fall back to the defaults and share another stage's tables.
    """
    path = project_dir / ".chalice" / "config.json"
    config = load_config(project_dir)
    app = config["app_name"]
    stages = config.setdefault("stages", {})
    if stage not in stages:
        names = stage_names(stage, app)
        stages[stage] = {
            "api_gateway_stage": "api",
            "environment_variables": names.stage_variables(),
            # Chalice merges per-function variables from the stage's own
            # lambda_functions only: the authorizer's marker goes here.
            "lambda_functions": {
                "token_authorizer": {"environment_variables": {"LATCHKEY_FUNCTION": "authorizer"}}
            },
        }
        path.write_text(json.dumps(config, indent=2) + "\n")
        say("env", f"added stage {stage!r} to .chalice/config.json with {names.prefix}-* resources")
    variables = dict(config.get("environment_variables", {}))
    variables.update(stages[stage].get("environment_variables", {}))
    if not variables.get("LATCHKEY_RESOURCE_PREFIX"):
        raise DeployError(f"stage {stage!r} has no LATCHKEY_RESOURCE_PREFIX in .chalice/config.json")
    return variables


def apply_stage_environment(variables: dict) -> None:
    """Make this process the stage's (before any `chalicelib.models` import)."""
    os.environ.update(variables)
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))


# -- what the stage is made of --------------------------------------------------


class Stage:
    """Everything generated for one stage (the process's environment is the stage's)."""

    def __init__(self, project_dir: Path, stage: str):
        self.project_dir = project_dir
        self.name = stage
        self.config = load_config(project_dir)
        self.app = self.config["app_name"]
        self.names = stage_names(stage, self.app)

        from chalicelib.settings import get_settings
        from chalicelib.store.tables import TABLE_MODELS

        self.settings = get_settings()
        self.models = list(TABLE_MODELS)
        self.domain: tuple[str, str] | None = None  # (DOMAIN_NAME, CERTIFICATE_ARN): infra/domain.py

    @property
    def stack_name(self) -> str:
        return self.names.data_stack

    @property
    def api_function(self) -> str:
        return self.names.api_function

    @property
    def authorizer_function(self) -> str:
        from chalicelib.functions import TOKEN_AUTHORIZER_NAME

        return self.names.qualified(TOKEN_AUTHORIZER_NAME)

    @property
    def api_gateway_stage(self) -> str:
        return self.config["stages"].get(self.name, {}).get("api_gateway_stage") or self.config.get(
            "api_gateway_stage", "api"
        )

    def public_routes(self) -> set[tuple[str, str]]:
        """(method, path) of routes the app declares without the authorizer."""
        from app import app

        return {
            (method, path)
            for path, methods in app.routes.items()
            for method, entry in methods.items()
            if entry.authorizer is None
        }

    def data_template(self) -> dict:
        from infra.data import data_template

        return data_template(self.models, self.settings.uploads_bucket, self.name)

    def policies(self, arns) -> dict[str, dict]:
        """Function name (as in config.json's lambda_functions) -> policy document."""
        from chalicelib.functions import SWEEPER_NAME, TOKEN_AUTHORIZER_NAME
        from chalicelib.models.sessions import Session
        from chalicelib.models.tokens import Token
        from infra import policies
        from infra.data import index_names

        settings = self.settings
        own = {"app": self.app, "stage": self.name}
        tables = {model.Meta.table_name: index_names(model) for model in self.models}
        return {
            policies.API_FUNCTION: policies.api_policy(
                arns, **own, tables=tables, bucket=settings.uploads_bucket, prefix=settings.uploads_prefix,
                append_only=[settings.audit_table], tracing=settings.api_tracing,
            ),
            TOKEN_AUTHORIZER_NAME: policies.authorizer_policy(
                arns, **own, tokens_table=settings.tokens_table, audit_table=settings.audit_table,
                token_key=Token.pk.attr_name, last_used_attribute=Token.last_used_at.attr_name,
                use_attributes=(Token.active_at.attr_name, Token.uses.attr_name),
                session_seen_attribute=Session.last_seen_at.attr_name, tracing=settings.authorizer_tracing,
            ),
            SWEEPER_NAME: policies.sweeper_policy(
                arns, **own, tokens_table=settings.tokens_table, tokens_indexes=index_names(Token),
                directory_table=settings.directory_table, audit_table=settings.audit_table,
                notify_from=settings.notify_from,
            ),
        }

    def write_policies(self, arns) -> None:
        """Write each function's policy where config.json's `iam_policy_file` points."""
        functions = self.config.get("lambda_functions", {})
        for function, document in self.policies(arns).items():
            filename = functions.get(function, {}).get("iam_policy_file")
            if not filename:
                raise DeployError(f"lambda_functions.{function}.iam_policy_file missing in config.json")
            (self.project_dir / ".chalice" / filename).write_text(json.dumps(document, indent=2) + "\n")

    def chalice(self, *args, env=None) -> subprocess.CompletedProcess:
        # Chalice's CLI, with the gateway responses in the API definition it publishes.
        command = [sys.executable, str(PROJECT_DIR / "scripts" / "chalice_cli.py"),
                   "--project-dir", str(self.project_dir), *args]
        return subprocess.run(  # nosec B603 - fixed executable, no shell
            command, cwd=self.project_dir, env=env or dict(os.environ), capture_output=True, text=True
        )


def prepare(stage_name: str, project_dir: Path) -> Stage:
    """The stage, this process made the stage's (config.json's entry added if new)."""
    apply_stage_environment(ensure_stage(project_dir, stage_name))
    return Stage(project_dir, stage_name)


def with_domain(stage: Stage, domain_name: str | None, certificate_arn: str | None) -> Stage:
    """The stage, served at the root of DOMAIN_NAME when both are given."""
    from infra.domain import DomainError, check

    try:
        stage.domain = check(domain_name, certificate_arn)
    except DomainError as error:
        raise DeployError(str(error)) from None
    return stage


def domain_note(stage: Stage) -> None:
    """What a client needs to know about the stage's URL."""
    from infra.domain import WHY_A_DOMAIN, base_url

    if stage.domain:
        say("domain", f"clients' base URL: {base_url(stage.domain[0])} (once DNS points {stage.domain[0]} "
                      "at the CustomDomainTarget output)")
    else:
        say("domain", "no custom domain: " + WHY_A_DOMAIN)
