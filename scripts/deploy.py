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

from chalicelib.stage_names import stage_names  # noqa: E402

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
        self.domain: tuple[str, str] | None = None  # (DOMAIN_NAME, CERTIFICATE_ARN): infra/domain.py

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
        from chalicelib.gateway import SWEEPER_NAME, TOKEN_AUTHORIZER_NAME
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
                append_only=[self.settings.audit_table],
                tracing=self.settings.api_tracing,
            ),
            TOKEN_AUTHORIZER_NAME: policies.authorizer_policy(
                arns,
                app=self.app,
                stage=self.name,
                tokens_table=self.settings.tokens_table,
                audit_table=self.settings.audit_table,
                token_key=Token.pk.attr_name,
                last_used_attribute=Token.last_used_at.attr_name,
                use_attributes=(Token.active_at.attr_name, Token.uses.attr_name),
                session_seen_attribute=Session.last_seen_at.attr_name,
                tracing=self.settings.authorizer_tracing,
            ),
            SWEEPER_NAME: policies.sweeper_policy(
                arns,
                app=self.app,
                stage=self.name,
                tokens_table=self.settings.tokens_table,
                tokens_indexes=index_names(Token),
                directory_table=self.settings.directory_table,
                audit_table=self.settings.audit_table,
                notify_from=self.settings.notify_from,
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
        # Chalice's CLI, with the gateway responses in the API definition it publishes.
        command = [sys.executable, str(PROJECT_DIR / "scripts" / "chalice_cli.py"),
                   "--project-dir", str(self.project_dir), *args]
        return subprocess.run(  # nosec B603 - fixed executable, no shell
            command, cwd=self.project_dir, env=env or dict(os.environ), capture_output=True, text=True
        )


# -- package ------------------------------------------------------------------------


def deep_merge(target: dict, extra: dict) -> dict:
    """Merge `extra` into `target` (dicts key by key, anything else replaced)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value
    return target


def template_fragments(stage: Stage) -> list[dict]:
    """Every template fragment merged into Chalice's, in order. A concern with
    resources of its own (infra/<concern>.py) adds its function here."""
    from chalicelib.gateway import TOKEN_AUTHORIZER_LOGICAL_ID
    from infra import operations
    from infra.gateway import authorizer_permission, swagger_gateway_responses

    data = stage.data_template()
    data.pop("AWSTemplateFormatVersion", None)
    data.pop("Description", None)
    gateway = {
        "Resources": {
            "TokenAuthorizerInvokePermission": authorizer_permission(TOKEN_AUTHORIZER_LOGICAL_ID, "RestAPI"),
            "RestAPI": {
                "Properties": {"DefinitionBody": {"x-amazon-apigateway-gateway-responses": swagger_gateway_responses()}}
            },
        }
    }
    ops = operations.stage_template(stage.app, stage.name, stage.api_gateway_stage, stage.settings)
    fragments = [data, gateway, ops]
    if stage.domain:
        from infra.domain import custom_domain_template

        fragments.append(custom_domain_template(*stage.domain))
    fragments.append(console_identity_fragment(stage))
    return fragments


def console_identity_fragment(stage: "Stage") -> dict:
    """Cognito for the console's sign-in, unless the stage names its own issuer."""
    from infra.data import RETAINED_STAGES
    from infra.identity import console_identity, needs_user_pool

    if not needs_user_pool(dict(os.environ)):
        return {}
    identity = console_identity(stage.name, api_stage=stage.api_gateway_stage,
                                console_url=stage.settings.console_url, retained=stage.name in RETAINED_STAGES)
    # The API function chalice generates (APIHandler) gets its settings.
    resources = {**identity["resources"],
                 "APIHandler": {"Properties": {"Environment": {"Variables": identity["environment"]}}}}
    return {"Resources": resources, "Outputs": identity["outputs"]}


def merge_template(stage: Stage) -> dict:
    template: dict = {}
    for fragment in template_fragments(stage):
        deep_merge(template, fragment)
    return template


# In every Lambda Python runtime (the AWS SDK and what it needs), so not
# shipped: PynamoDB needs any botocore since 1.12 and Powertools jmespath,
# both satisfied by the runtime's; latchkey uses no recent AWS API.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "python_dateutil", "six", "urllib3"}


def _distribution(top: str) -> str:
    name = top.removesuffix(".py")
    if name.endswith((".dist-info", ".egg-info")):
        name = name.split("-", 1)[0]
    return name.lower().replace("-", "_")


def slim_package(zip_path: Path) -> dict:
    """Rewrite the deployment package without RUNTIME_PROVIDED; its sizes."""
    import zipfile

    before = zip_path.stat().st_size
    dropped: set[str] = set()
    unzipped = 0
    slim = zip_path.with_suffix(".slim")
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            top = info.filename.split("/", 1)[0]
            if _distribution(top) in RUNTIME_PROVIDED:
                dropped.add(_distribution(top).replace("python_", ""))
                continue
            unzipped += info.file_size
            target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(slim, zip_path)
    return {"before": before, "after": zip_path.stat().st_size, "unzipped": unzipped, "dropped": sorted(dropped)}


def report_size(sizes: dict) -> None:
    mb = 1024 * 1024
    say("package", f"deployment.zip: {sizes['after'] / mb:.1f} MB ({sizes['unzipped'] / mb:.1f} MB unzipped; "
                   f"Lambda's limit is 250 MB unzipped), {sizes['before'] / mb:.1f} MB before leaving out what the "
                   f"Lambda runtime provides: {', '.join(sizes['dropped']) or 'nothing'}")


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
    report_size(slim_package(package_dir / "deployment.zip"))
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

    # 1. tables, bucket, and the role API Gateway invokes the authorizer with
    def data_stack(self) -> dict:
        from infra.gateway import authorizer_invoke_role

        cfn = self.client("cloudformation")
        name = self.stage.stack_name
        template = self.stage.data_template()
        template["Resources"]["AuthorizerInvokeRole"] = authorizer_invoke_role(self.stage.authorizer_function)
        template["Outputs"]["AuthorizerInvokeRole"] = {"Value": {"Fn::GetAtt": ["AuthorizerInvokeRole", "Arn"]},
                                                       "Description": "role API Gateway invokes the authorizer with"}
        body = json.dumps(template)
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
        self.authorizer_credentials = outputs.get("AuthorizerInvokeRole")
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
        from chalicelib.gateway import AUTHORIZER_CREDENTIALS_VARIABLE, AUTHORIZER_URI_VARIABLE

        self.stage.write_policies(arns)
        env = dict(os.environ)
        env[AUTHORIZER_URI_VARIABLE] = arns.authorizer_uri(self.stage.authorizer_function)
        # API Gateway invokes the authorizer with this role from the API's
        # first moment: no window before a permission is added.
        if getattr(self, "authorizer_credentials", None):
            env[AUTHORIZER_CREDENTIALS_VARIABLE] = self.authorizer_credentials
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


# -- concurrent deploys ---------------------------------------------------------------


class DeployLock:
    """One deploy of a stage at a time, whichever path: an SSM parameter
    created only if absent (an atomic test-and-set), deleted when done."""

    def __init__(self, ssm, app: str, stage: str, holder: str | None = None):
        self.ssm = ssm
        self.name = f"/{app}/{stage}/deploy-lock"
        self.holder = holder or f"{os.environ.get('USER', 'someone')}@{os.uname().nodename} pid {os.getpid()}"

    def __enter__(self):
        import datetime

        since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        try:
            self.ssm.put_parameter(Name=self.name, Value=json.dumps({"holder": self.holder, "since": since}),
                                   Type="String", Overwrite=False)
        except self.ssm.exceptions.ParameterAlreadyExists:
            current = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
            raise click.ClickException(
                f"another deploy of this stage is running ({current}); wait for it. If it died, remove the lock: "
                f"python scripts/deploy.py unlock --stage <stage> (SSM parameter {self.name})"
            ) from None
        say("lock", f"holding {self.name}")
        return self

    def __exit__(self, *exc_info):
        try:
            self.ssm.delete_parameter(Name=self.name)
        except self.ssm.exceptions.ParameterNotFound:
            pass
        say("lock", f"released {self.name}")
        return False


# -- the default path: one CloudFormation stack --------------------------------------------


def translate_sam(template: dict, region: str) -> dict:
    """SAM -> plain CloudFormation, as CloudFormation's own transform does:
    the stack gets exactly the template checked here (and rehearsed on moto,
    which has no transforms)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # every role here is written out in full
        def load(self):
            return {}

    return transform(template, {}, NoManagedPolicies())


# moto's CloudFormation creates a REST API without its definition (no
# methods), so its deployment fails: a rehearsal leaves these out, and says so.
REHEARSAL_SKIPPED_TYPES = ("AWS::ApiGateway::", "AWS::WAFv2::WebACLAssociation")


def _references(value) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    import re

    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner.split(".")[0])
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= _references(inner[1])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _placeholder_settings(resource: dict, dropped: set[str]) -> None:
    """A function whose settings name a skipped resource (the console's
    Cognito client, whose callback URLs name the REST API) is still
    rehearsed: those settings become a placeholder, not a reason to drop it."""
    variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    for key, value in variables.items():
        if _references(value) & dropped:
            variables[key] = "not-deployed-in-rehearsal"


def rehearsal_template(template: dict) -> tuple[dict, list[str]]:
    """`template` without what moto cannot deploy and whatever depends on it."""
    template = json.loads(json.dumps(template))
    resources = template["Resources"]
    dropped = {name for name, r in resources.items() if r["Type"].startswith(REHEARSAL_SKIPPED_TYPES)}
    while True:
        for name, resource in resources.items():
            if name not in dropped:
                _placeholder_settings(resource, dropped)
        more = {name for name, r in resources.items() if name not in dropped
                and ((_references(r) | set(r.get("DependsOn") or [])) & dropped)}
        if not more:
            break
        dropped |= more
    for name in dropped:
        resources.pop(name)
    template["Outputs"] = {k: v for k, v in template.get("Outputs", {}).items() if not _references(v) & dropped}
    return template, sorted(dropped)


class StackDeployer(Deployer):
    """`make deploy`: package, upload, one change set, applied atomically."""

    CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")

    @property
    def stack(self) -> str:
        return f"{self.stage.app}-{self.stage.name}"

    def artifacts_bucket(self, account: str) -> str:
        return f"{self.stage.app}-{self.stage.name}-artifacts-{account}-{self.region}"

    def refuse_two_stack_stage(self) -> None:
        """A stage deployed by the chalice path keeps its tables in the data
        stack: a second stack would try to create the same tables."""
        cfn = self.client("cloudformation")
        try:
            stacks = cfn.describe_stacks(StackName=self.stage.stack_name)["Stacks"]
        except cfn.exceptions.ClientError:
            return
        if any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks):
            raise click.ClickException(
                f"stage {self.stage.name!r} was deployed with DEPLOY_PATH=chalice (stack {self.stage.stack_name} "
                "exists): keep deploying it that way, or move it as docs/deployment.md explains"
            )

    def ensure_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except s3.exceptions.ClientError:
            pass
        arguments: dict = {"Bucket": bucket}
        if self.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**arguments)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        say("artifacts", f"created bucket {bucket}")

    def upload(self, bucket: str, key: str, body: bytes) -> None:
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        say("artifacts", f"uploaded s3://{bucket}/{key} ({len(body) / 1024 / 1024:.1f} MB)")

    def template(self, sam_path: Path, bucket: str) -> dict:
        import hashlib

        code = (sam_path.parent / "deployment.zip").read_bytes()
        key = f"{self.stage.name}/code-{hashlib.sha256(code).hexdigest()}.zip"
        self.upload(bucket, key, code)
        sam = json.loads(sam_path.read_text())
        for resource in sam["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
        return translate_sam(sam, self.region)

    def apply(self, template: dict, bucket: str) -> dict:
        """One change set: created, shown, executed; CloudFormation rolls it back on failure."""
        import hashlib
        import time

        from botocore.exceptions import WaiterError

        cfn = self.client("cloudformation")
        body = json.dumps(template, sort_keys=True).encode()
        key = f"{self.stage.name}/template-{hashlib.sha256(body).hexdigest()}.json"
        self.upload(bucket, key, body)
        url = f"https://{bucket}.s3.{self.region}.amazonaws.com/{key}"
        existing = self._stack_status(cfn)
        if existing == "ROLLBACK_COMPLETE":  # a first create that failed: nothing to keep
            say("stack", f"{self.stack} failed its first creation; deleting it to start again")
            cfn.delete_stack(StackName=self.stack)
            cfn.get_waiter("stack_delete_complete").wait(StackName=self.stack, WaiterConfig={"Delay": 5})
            existing = None
        change_type = "UPDATE" if existing else "CREATE"
        name = f"deploy-{int(time.time())}"
        cfn.create_change_set(StackName=self.stack, ChangeSetName=name, ChangeSetType=change_type,
                              TemplateURL=url, Capabilities=list(self.CAPABILITIES),
                              Tags=[{"Key": "latchkey:stage", "Value": self.stage.name}],
                              Description="make deploy")
        try:
            cfn.get_waiter("change_set_create_complete").wait(StackName=self.stack, ChangeSetName=name,
                                                              WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except WaiterError:
            described = cfn.describe_change_set(StackName=self.stack, ChangeSetName=name)
            reason = described.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=self.stack, ChangeSetName=name)
                say("stack", f"{self.stack} is up to date")
                return self._outputs(cfn)
            raise click.ClickException(f"change set {name} failed: {reason}") from None
        changes = cfn.describe_change_set(StackName=self.stack, ChangeSetName=name).get("Changes", [])
        actions: dict[str, int] = {}
        for change in changes:
            action = change.get("ResourceChange", {}).get("Action", "?")
            actions[action] = actions.get(action, 0) + 1
        say("stack", f"change set {name} ({change_type}): "
                     + (", ".join(f"{n} {a.lower()}" for a, n in sorted(actions.items())) or "no resource changes"))
        cfn.execute_change_set(StackName=self.stack, ChangeSetName=name)
        waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
        try:
            cfn.get_waiter(waiter).wait(StackName=self.stack, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
        except WaiterError:
            raise click.ClickException(
                f"{self.stack} failed and CloudFormation rolled it back to the previous version: "
                + "; ".join(self._failures(cfn))
            ) from None
        say("stack", f"{self.stack}: {self._stack_status(cfn)}")
        return self._outputs(cfn)

    def _stack_status(self, cfn) -> str | None:
        try:
            stacks = cfn.describe_stacks(StackName=self.stack)["Stacks"]
        except cfn.exceptions.ClientError:
            return None
        live = [stack for stack in stacks if stack["StackStatus"] != "DELETE_COMPLETE"]
        return live[0]["StackStatus"] if live else None

    def _outputs(self, cfn) -> dict:
        stack = cfn.describe_stacks(StackName=self.stack)["Stacks"][0]
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def _failures(self, cfn) -> list[str]:
        events = cfn.describe_stack_events(StackName=self.stack).get("StackEvents", [])
        return [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
                if e.get("ResourceStatus", "").endswith("FAILED")][:5]


def deploy_stack(prepared: Stage, out_dir: Path) -> None:
    deployer = StackDeployer(prepared)
    if is_local_endpoint():
        say("endpoint", f"local rehearsal against {os.environ['AWS_ENDPOINT_URL']}")
    account = deployer.arns().account
    with DeployLock(deployer.client("ssm"), prepared.app, prepared.name):
        deployer.refuse_two_stack_stage()
        sam_path = package_stage(prepared, out_dir)
        bucket = deployer.artifacts_bucket(account)
        deployer.ensure_bucket(bucket)
        template = deployer.template(sam_path, bucket)
        if is_local_endpoint():
            template, skipped = rehearsal_template(template)
            say("stack", f"SKIPPED (local endpoint): {len(skipped)} resources moto cannot deploy "
                         f"(the REST API and what needs it): {', '.join(skipped)}")
        outputs = deployer.apply(template, bucket)
    if is_local_endpoint():
        click.echo(f"REHEARSAL: stack {deployer.stack} from one change set (tables, bucket, roles, functions, "
                   "log groups, alarms); the REST API and what needs it not run against this endpoint")
        return
    click.echo(f"API URL: {outputs.get('EndpointURL')}")
    if outputs.get("CustomDomainBaseUrl"):
        click.echo(f"Base URL for clients: {outputs['CustomDomainBaseUrl']}")
    else:
        click.echo(f"Base URL for clients: {str(outputs.get('EndpointURL', '')).rstrip('/')} "
                   "(all but the Scala coverage reporter)")


# -- CLI ----------------------------------------------------------------------------


def prepare(stage_name: str, project_dir: Path) -> Stage:
    apply_stage_environment(ensure_stage(project_dir, stage_name))
    return Stage(project_dir, stage_name)


def with_domain(stage: Stage, domain_name: str | None, certificate_arn: str | None) -> Stage:
    """The stage, served at the root of DOMAIN_NAME when both are given."""
    from infra.domain import DomainError, check

    try:
        stage.domain = check(domain_name, certificate_arn)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    return stage


def domain_note(stage: Stage) -> None:
    """What a client needs to know about the stage's URL."""
    from infra.domain import WHY_A_DOMAIN, base_url

    if stage.domain:
        say("domain", f"clients' base URL: {base_url(stage.domain[0])} (once DNS points {stage.domain[0]} "
                      "at the CustomDomainTarget output)")
    else:
        say("domain", "no custom domain: " + WHY_A_DOMAIN)


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
    deployer = Deployer(prepared)
    if prepared.domain:
        from infra.domain import certificate_region

        if certificate_region(prepared.domain[1]) != deployer.region:
            raise click.ClickException(
                f"CERTIFICATE_ARN is in {certificate_region(prepared.domain[1])}, the stage in {deployer.region}: "
                "a regional custom domain needs a certificate of its own region")
    domain_note(prepared)
    if path == "stack":
        deploy_stack(prepared, (project_dir / "build" / stage).resolve())
        return
    with DeployLock(deployer.client("ssm"), prepared.app, prepared.name):
        chalice_path(deployer)


@cli.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=PROJECT_DIR)
def unlock(stage, project_dir):
    """Remove a stage's deploy lock left by a deploy that died."""
    prepared = prepare(stage, project_dir.resolve())
    lock = DeployLock(Deployer(prepared).client("ssm"), prepared.app, prepared.name)
    lock.__exit__(None, None, None)


def chalice_path(deployer: "Deployer") -> None:
    """`chalice deploy` and the steps around it (DEPLOY_PATH=chalice)."""
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
    prepared = deployer.stage
    if prepared.domain:
        from infra.domain import ensure_custom_domain

        domain = ensure_custom_domain(deployer.client("apigateway"), *prepared.domain, rest_api_id,
                                      prepared.api_gateway_stage, say=lambda m: say("domain", m))
        say("domain", f"DNS: point {prepared.domain[0]} at {domain['target']} (CNAME, or an alias record in "
                      f"hosted zone {domain['hostedZoneId']})")
        click.echo(f"Base URL for clients: {domain['baseUrl']}")
    else:
        click.echo(f"Base URL for clients: {url.rstrip('/')} (all but the Scala coverage reporter)")


if __name__ == "__main__":
    cli()
