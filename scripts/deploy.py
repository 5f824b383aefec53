"""`make deploy` and `make package`: a whole stage, from this repository.

Chalice deploys the Lambda functions, their roles and the REST API, but not
tables, buckets or API Gateway's own error answers, and it cannot wire a
REQUEST authorizer. `deploy` therefore runs, each step idempotent:

1. stack    the `<app>-<stage>-data` CloudFormation stack: every table of
            `TABLE_MODELS` and the uploads bucket (create, update or leave);
2. env      the stage's environment variables (`.chalice/config.json`)
            checked against the stack, and each function's policy written;
3. chalice  `chalice deploy --stage <stage>` with the authorizer's concrete
            invocation ARN in the API definition (Chalice's record of the
            stage is restored from, and saved to, SSM Parameter Store);
4. authorizer  every REST API authorizer pointed at that function, with the
            stage's cache TTL, and API Gateway allowed to invoke it;
5. responses   the gateway responses of `chalicelib.gateway`;
6. deployment  a new deployment of the API stage, then its URL.

`package` writes one SAM template (`chalice package --merge-template`) with
the tables, bucket, functions, roles, authorizer permission and gateway
responses, for `aws cloudformation deploy`.

Every AWS client honours `AWS_ENDPOINT_URL`, so both run against a local
moto server: the steps that server cannot perform are reported, not hidden.
"""

import json
import os
import subprocess  # nosec B404 - runs the chalice CLI with arguments built here, never a shell
import sys
from pathlib import Path
from urllib.parse import urlparse

import click

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class StepSkipped(Exception):
    """A step the endpoint cannot perform (a local rehearsal only)."""


def say(step: str, message: str) -> None:
    click.echo(f"[{step}] {message}")


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
        prefix = f"{app}-{stage}"
        stages[stage] = {
            "api_gateway_stage": "api",
            "environment_variables": {
                "LATCHKEY_RESOURCE_PREFIX": prefix,
                "TOKENS_TABLE": f"{prefix}-tokens",
                "DIRECTORY_TABLE": f"{prefix}-directory",
                "UPLOADS_TABLE": f"{prefix}-uploads",
                "UPLOADS_BUCKET": f"{prefix}-uploads",
                "AUDIT_TABLE": f"{prefix}-audit",
            },
        }
        path.write_text(json.dumps(config, indent=2) + "\n")
        say("env", f"added stage {stage!r} to .chalice/config.json with {prefix}-* resources")
    variables = dict(config.get("environment_variables", {}))
    variables.update(stages[stage].get("environment_variables", {}))
    if not variables.get("LATCHKEY_RESOURCE_PREFIX"):
        raise click.ClickException(f"stage {stage!r} has no LATCHKEY_RESOURCE_PREFIX in .chalice/config.json")
    return variables


def apply_stage_environment(variables: dict) -> None:
    """Make this process the stage's (before any `chalicelib.models` import)."""
    os.environ.update(variables)
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))


def is_local_endpoint() -> bool:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return bool(endpoint) and urlparse(endpoint).hostname in LOCAL_HOSTS


# -- what the stage is made of --------------------------------------------------


class Stage:
    """Everything generated for one stage (the process's environment is the stage's)."""

    def __init__(self, project_dir: Path, stage: str):
        self.project_dir = project_dir
        self.name = stage
        self.config = load_config(project_dir)
        self.app = self.config["app_name"]

        from chalicelib.settings import get_settings
        from chalicelib.store.tables import TABLE_MODELS

        self.settings = get_settings()
        self.models = list(TABLE_MODELS)

    @property
    def stack_name(self) -> str:
        return f"{self.app}-{self.name}-data"

    @property
    def api_function(self) -> str:
        return f"{self.app}-{self.name}"

    @property
    def authorizer_function(self) -> str:
        from chalicelib.gateway import TOKEN_AUTHORIZER_NAME

        return f"{self.app}-{self.name}-{TOKEN_AUTHORIZER_NAME}"

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
        from chalicelib.gateway import TOKEN_AUTHORIZER_NAME
        from chalicelib.models.sessions import Session
        from chalicelib.models.tokens import Token
        from infra import policies
        from infra.data import index_names

        tables = {model.Meta.table_name: index_names(model) for model in self.models}
        return {
            policies.API_FUNCTION: policies.api_policy(
                arns,
                app=self.app,
                stage=self.name,
                tables=tables,
                bucket=self.settings.uploads_bucket,
                prefix=self.settings.uploads_prefix,
            ),
            TOKEN_AUTHORIZER_NAME: policies.authorizer_policy(
                arns,
                app=self.app,
                stage=self.name,
                tokens_table=self.settings.tokens_table,
                audit_table=self.settings.audit_table,
                token_key=Token.pk.attr_name,
                last_used_attribute=Token.last_used_at.attr_name,
                session_seen_attribute=Session.last_seen_at.attr_name,
            ),
        }

    def write_policies(self, arns) -> None:
        """Write each function's policy where config.json's `iam_policy_file` points."""
        functions = self.config.get("lambda_functions", {})
        for function, document in self.policies(arns).items():
            filename = functions.get(function, {}).get("iam_policy_file")
            if not filename:
                raise click.ClickException(f"lambda_functions.{function}.iam_policy_file missing in config.json")
            (self.project_dir / ".chalice" / filename).write_text(json.dumps(document, indent=2) + "\n")

    def chalice(self, *args, env=None) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).parent / "chalice"), "--project-dir", str(self.project_dir), *args]
        return subprocess.run(  # nosec B603 - fixed executable, no shell
            command, cwd=self.project_dir, env=env or dict(os.environ), capture_output=True, text=True
        )


# -- package ------------------------------------------------------------------------


def merge_template(stage: Stage) -> dict:
    from chalicelib.gateway import TOKEN_AUTHORIZER_LOGICAL_ID
    from infra.gateway import authorizer_permission, swagger_gateway_responses

    template = stage.data_template()
    template.pop("AWSTemplateFormatVersion", None)
    template.pop("Description", None)
    resources = template["Resources"]
    resources["TokenAuthorizerInvokePermission"] = authorizer_permission(TOKEN_AUTHORIZER_LOGICAL_ID, "RestAPI")
    resources["RestAPI"] = {
        "Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": swagger_gateway_responses()}}
    }
    add_console_identity(stage, template)
    return template


def add_console_identity(stage: "Stage", template: dict) -> None:
    """Cognito for the console's sign-in, unless the stage names its own issuer."""
    from infra.data import RETAINED_STAGES
    from infra.identity import console_identity, needs_user_pool

    if not needs_user_pool(dict(os.environ)):
        return
    identity = console_identity(stage.name, api_stage=stage.api_gateway_stage,
                                console_url=stage.settings.console_url, retained=stage.name in RETAINED_STAGES)
    template["Resources"].update(identity["resources"])
    # Merged into the API function chalice generates (APIHandler): its settings.
    template["Resources"]["APIHandler"] = {"Properties": {"Environment": {"Variables": identity["environment"]}}}
    template.setdefault("Outputs", {}).update(identity["outputs"])


def package_stage(stage: Stage, out_dir: Path) -> Path:
    from chalicelib.gateway import AUTHORIZER_URI_VARIABLE, TOKEN_AUTHORIZER_LOGICAL_ID
    from infra.arns import TemplateArns

    out_dir.mkdir(parents=True, exist_ok=True)
    stage.write_policies(TemplateArns())
    merge_path = out_dir / "merge.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    package_dir = out_dir / "package"
    env = dict(os.environ)
    env.pop(AUTHORIZER_URI_VARIABLE, None)  # the template resolves it itself
    result = stage.chalice(
        "package", "--stage", stage.name, "--merge-template", str(merge_path), str(package_dir), env=env
    )
    if result.returncode != 0:
        raise click.ClickException(f"chalice package failed:\n{result.stdout}{result.stderr}")
    template_path = package_dir / "sam.json"
    template = json.loads(template_path.read_text())
    if TOKEN_AUTHORIZER_LOGICAL_ID not in template.get("Resources", {}):
        raise click.ClickException(
            f"chalice package named the authorizer function differently than {TOKEN_AUTHORIZER_LOGICAL_ID}: "
            "the authorizerUri would not resolve"
        )
    return template_path


# -- deploy -------------------------------------------------------------------------


class Deployer:
    def __init__(self, stage: Stage):
        import boto3

        self.stage = stage
        self.session = boto3.Session()
        self.region = self.session.region_name or os.environ["AWS_DEFAULT_REGION"]
        self.skipped: list[str] = []

    def client(self, service: str):
        return self.session.client(service, region_name=self.region)

    def arns(self):
        from infra.arns import ConcreteArns

        identity = self.client("sts").get_caller_identity()
        partition = identity["Arn"].split(":")[1] if identity.get("Arn", "").startswith("arn:") else "aws"
        return ConcreteArns(region=self.region, account=identity["Account"], partition=partition)

    # 1. tables and bucket
    def data_stack(self) -> dict:
        cfn = self.client("cloudformation")
        name = self.stage.stack_name
        body = json.dumps(self.stage.data_template())
        try:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        except cfn.exceptions.ClientError as error:
            if "does not exist" not in str(error):
                raise
            stacks = []
        live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        if not live:
            say("stack", f"creating {name}")
            cfn.create_stack(
                StackName=name, TemplateBody=body, Tags=[{"Key": "latchkey:stage", "Value": self.stage.name}]
            )
            cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 300})
        else:
            try:
                cfn.update_stack(StackName=name, TemplateBody=body)
                say("stack", f"updating {name}")
                cfn.get_waiter("stack_update_complete").wait(
                    StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
                )
            except cfn.exceptions.ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
                say("stack", f"{name} is up to date")
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        say("stack", f"{name}: {stack['StackStatus']}, {len(outputs)} outputs")
        return outputs

    # 2. stage variables agree with the stack
    def check_environment(self, outputs: dict) -> None:
        from infra.data import logical_id

        expected = {logical_id(m): m.Meta.table_name for m in self.stage.models}
        expected["UploadsBucket"] = self.stage.settings.uploads_bucket
        wrong = {key: (value, outputs.get(key)) for key, value in expected.items() if outputs.get(key) != value}
        if wrong:
            raise click.ClickException(f"stage variables and stack disagree (config, stack): {wrong}")
        say("env", "stage variables name the stack's " + ", ".join(sorted(expected.values())))

    # 3. Chalice's memory of the stage
    @property
    def state_parameter(self) -> str:
        return f"/{self.stage.app}/{self.stage.name}/chalice-deployed"

    @property
    def deployed_file(self) -> Path:
        return self.stage.project_dir / ".chalice" / "deployed" / f"{self.stage.name}.json"

    def restore_chalice_state(self) -> None:
        """Chalice knows what it deployed only from `.chalice/deployed/<stage>.json`:
        without it, it creates a second REST API (a new URL). A copy is kept in
        SSM Parameter Store after every deploy, so any clone (CI included)
        updates the same stage; it wins over a local file, being the latest."""
        ssm = self.client("ssm")
        try:
            value = ssm.get_parameter(Name=self.state_parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            where = "a local file" if self.deployed_file.exists() else "nothing: first deploy of this stage"
            say("state", f"no {self.state_parameter} in SSM; Chalice starts from {where}")
            return
        self.deployed_file.parent.mkdir(parents=True, exist_ok=True)
        self.deployed_file.write_text(value)
        say("state", f"restored Chalice's record of the stage from SSM {self.state_parameter}")

    def save_chalice_state(self) -> None:
        self.client("ssm").put_parameter(
            Name=self.state_parameter,
            Value=self.deployed_file.read_text(),
            Type="String",
            Overwrite=True,
            Tier="Intelligent-Tiering",
        )
        say("state", f"saved Chalice's record of the stage to SSM {self.state_parameter}")

    # 3. chalice deploy
    def chalice_deploy(self, arns) -> dict | None:
        from chalicelib.gateway import AUTHORIZER_URI_VARIABLE

        self.stage.write_policies(arns)
        env = dict(os.environ)
        env[AUTHORIZER_URI_VARIABLE] = arns.authorizer_uri(self.stage.authorizer_function)
        say("chalice", f"chalice deploy --stage {self.stage.name}")
        result = self.stage.chalice("deploy", "--stage", self.stage.name, env=env)
        output = result.stdout + result.stderr
        if result.returncode == 0:
            click.echo(output.rstrip())
            resources = json.loads(self.deployed_file.read_text())["resources"]
            return next(r for r in resources if r.get("resource_type") == "rest_api")
        if is_local_endpoint() and "RestApi operation" in output and self._functions_exist():
            say("chalice", "chalice deploy stopped at the REST API: " + _error_line(output))
            raise StepSkipped(
                "the local endpoint created the roles and Lambda functions but not the REST API "
                "(moto's ImportRestApi/PutRestApi does not take Chalice's Swagger 2.0 definition)"
            )
        raise click.ClickException(f"chalice deploy failed:\n{output}")

    def _functions_exist(self) -> bool:
        client = self.client("lambda")
        try:
            for name in (self.stage.api_function, self.stage.authorizer_function):
                client.get_function(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            return False
        say("chalice", f"functions {self.stage.api_function} and {self.stage.authorizer_function} exist")
        return True

    # 4. the authorizer
    def wire_authorizer(self, arns, rest_api_id: str) -> None:
        apigateway = self.client("apigateway")
        wire_authorizer(
            apigateway,
            self.client("lambda"),
            arns,
            rest_api_id,
            self.stage.authorizer_function,
            self.stage.settings.authorizer_ttl_seconds,
        )
        verify_methods_protected(apigateway, rest_api_id, self.stage.public_routes())

    # 5, 6
    def finish_api(self, rest_api: dict) -> str:
        apigateway = self.client("apigateway")
        rest_api_id = rest_api["rest_api_id"]
        put_gateway_responses(apigateway, rest_api_id)
        create_api_deployment(apigateway, rest_api_id, self.stage.api_gateway_stage)
        return rest_api.get("rest_api_url") or (
            f"https://{rest_api_id}.execute-api.{self.region}.amazonaws.com/{self.stage.api_gateway_stage}/"
        )


def wire_authorizer(apigateway, lambda_client, arns, rest_api_id: str, function_name: str, ttl: int) -> None:
    """Point every authorizer of the API at `function_name`, with `ttl`, and let
    the API (only its authorizers) invoke it."""
    uri = arns.authorizer_uri(function_name)
    authorizers = apigateway.get_authorizers(restApiId=rest_api_id).get("items", [])
    if not authorizers:
        raise click.ClickException(f"REST API {rest_api_id} has no authorizer: protected routes would be open")
    for authorizer in authorizers:
        patches = []
        if authorizer.get("authorizerUri") != uri:
            patches.append({"op": "replace", "path": "/authorizerUri", "value": uri})
        if int(authorizer.get("authorizerResultTtlInSeconds") or 0) != ttl:
            patches.append({"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": str(ttl)})
        if patches:
            apigateway.update_authorizer(restApiId=rest_api_id, authorizerId=authorizer["id"], patchOperations=patches)
        say("authorizer", f"{authorizer['name']} ({authorizer.get('type')}) -> {function_name}, cache TTL {ttl}s")
    source_arn = arns.execute_api(rest_api_id, "authorizers/*")
    statement_id = f"{function_name}-apigateway"
    existing = _policy_statements(lambda_client, function_name)
    current = existing.get(statement_id)
    if current and source_arn in json.dumps(current):
        say("authorizer", "API Gateway may already invoke it")
        return
    if current:
        lambda_client.remove_permission(FunctionName=function_name, StatementId=statement_id)
    lambda_client.add_permission(
        FunctionName=function_name,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )
    say("authorizer", f"allowed {source_arn} to invoke it")


def verify_methods_protected(apigateway, rest_api_id: str, public: set[tuple[str, str]] = frozenset()) -> int:
    """Refuse an API with a method that bypasses the authorizer; return how many are protected."""
    authorizer_ids = {a["id"] for a in apigateway.get_authorizers(restApiId=rest_api_id).get("items", [])}
    protected = 0
    paginator = apigateway.get_paginator("get_resources")
    for page in paginator.paginate(restApiId=rest_api_id, embed=["methods"]):
        for resource in page.get("items", []):
            for method, details in (resource.get("resourceMethods") or {}).items():
                if method == "OPTIONS" or (method, resource["path"]) in public:
                    continue
                if details.get("authorizationType") != "CUSTOM" or details.get("authorizerId") not in authorizer_ids:
                    raise click.ClickException(f"{method} {resource['path']} is not behind the token authorizer")
                protected += 1
    say("authorizer", f"{protected} methods are behind it")
    return protected


def create_api_deployment(apigateway, rest_api_id: str, stage_name: str) -> None:
    """Gateway responses and authorizer changes take effect with a new deployment."""
    apigateway.create_deployment(
        restApiId=rest_api_id, stageName=stage_name, description="make deploy: authorizer and gateway responses"
    )
    say("deployment", f"deployed stage {stage_name!r}")


def _error_line(output: str) -> str:
    """The AWS error of a failed chalice run, without its traceback."""
    text = " ".join(output.split())
    start = text.find("An error occurred")
    return text[start : start + 160] if start >= 0 else text[-160:]


def _policy_statements(lambda_client, function_name: str) -> dict:
    try:
        policy = json.loads(lambda_client.get_policy(FunctionName=function_name)["Policy"])
    except lambda_client.exceptions.ResourceNotFoundException:
        return {}
    return {statement.get("Sid"): statement for statement in policy.get("Statement", [])}


def put_gateway_responses(apigateway, rest_api_id: str) -> None:
    from infra.gateway import put_gateway_response_calls

    for call in put_gateway_response_calls(rest_api_id):
        apigateway.put_gateway_response(**call)
        say(
            "responses",
            f"{call['responseType']} -> {call.get('statusCode', 'status as is')} "
            f"{call['responseTemplates']['application/json']}",
        )


# -- CLI ----------------------------------------------------------------------------


def prepare(stage_name: str, project_dir: Path) -> Stage:
    apply_stage_environment(ensure_stage(project_dir, stage_name))
    return Stage(project_dir, stage_name)


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
def package(stage, project_dir, out_dir):
    """Write one CloudFormation/SAM template for the whole stage."""
    prepared = prepare(stage, project_dir.resolve())
    template = package_stage(prepared, (out_dir or project_dir / "build" / stage).resolve())
    click.echo(f"wrote {template} (deploy with: aws cloudformation package/deploy, see docs/deployment.md)")


@cli.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=PROJECT_DIR)
def deploy(stage, project_dir):
    """Create or update everything the stage needs; print its API URL."""
    prepared = prepare(stage, project_dir.resolve())
    deployer = Deployer(prepared)
    if is_local_endpoint():
        say("endpoint", f"local rehearsal against {os.environ['AWS_ENDPOINT_URL']}")
    arns = deployer.arns()
    outputs = deployer.data_stack()
    deployer.check_environment(outputs)
    deployer.restore_chalice_state()
    try:
        rest_api = deployer.chalice_deploy(arns)
    except StepSkipped as skipped:
        say("chalice", f"SKIPPED (local endpoint): {skipped}")
        for step in ("authorizer", "responses", "deployment"):
            say(step, "SKIPPED (local endpoint): needs the REST API")
        click.echo(
            "REHEARSAL: stack, stage variables, roles and functions done; "
            "REST API, authorizer wiring, gateway responses and deployment not run against this endpoint"
        )
        return
    deployer.save_chalice_state()
    rest_api_id = rest_api["rest_api_id"]
    deployer.wire_authorizer(arns, rest_api_id)
    url = deployer.finish_api(rest_api)
    click.echo(f"API URL: {url}")


if __name__ == "__main__":
    cli()
