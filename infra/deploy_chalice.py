"""`make deploy DEPLOY_PATH=chalice`: `chalice deploy` and the steps around it.

Chalice deploys the Lambda functions, their roles and the REST API, but not
tables, buckets or API Gateway's own error answers, and it cannot wire a
REQUEST authorizer. The path's steps, in order, each idempotent and each
named in what it prints:

1. stack       the `<app>-<stage>-data` CloudFormation stack: every table of
               `TABLE_MODELS` and the uploads bucket (create, update or leave);
2. env         the stage's environment variables (`.chalice/config.json`)
               checked against the stack;
3. state       Chalice's record of the stage restored from SSM Parameter Store;
4. chalice     each function's policy written, then `chalice deploy --stage
               <stage>` with the authorizer's concrete invocation ARN in the API
               definition (the record saved back to SSM);
5. authorizer  every REST API authorizer pointed at that function, with the
               stage's cache TTL, and API Gateway allowed to invoke it;
6. responses   the gateway responses of `chalicelib.refusals`;
7. deployment  a new deployment of the API stage, then its URL (and the
               custom domain, when the stage has one).
"""
import json
import os
from collections.abc import Set
from pathlib import Path

from click import echo

from infra.deploy import Deployer
from infra.stage import DeployError, StepSkipped, is_local_endpoint, say

AFTER_THE_REST_API = ("authorizer", "responses", "deployment")


class ChaliceDeployer(Deployer):
    """The steps of this path, as methods named for them."""

    authorizer_credentials: str | None = None  # the data stack's AuthorizerInvokeRole (step env)

    def data_stack(self) -> dict:
        """Step `stack`: tables, bucket, and the role API Gateway invokes the authorizer with; the outputs."""
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

    def check_environment(self, outputs: dict) -> None:
        """Step `env`: the stage variables name the stack's tables and bucket."""
        from infra.data import logical_id

        expected = {logical_id(m): m.Meta.table_name for m in self.stage.models}
        expected["UploadsBucket"] = self.stage.settings.uploads_bucket
        wrong = {key: (value, outputs.get(key)) for key, value in expected.items() if outputs.get(key) != value}
        self.authorizer_credentials = outputs.get("AuthorizerInvokeRole")
        if wrong:
            raise DeployError(f"stage variables and stack disagree (config, stack): {wrong}")
        say("env", "stage variables name the stack's " + ", ".join(sorted(expected.values())))

    @property
    def state_parameter(self) -> str:
        return f"/{self.stage.app}/{self.stage.name}/chalice-deployed"

    @property
    def deployed_file(self) -> Path:
        return self.stage.project_dir / ".chalice" / "deployed" / f"{self.stage.name}.json"

    def restore_chalice_state(self) -> None:
        """Step `state`. Chalice knows what it deployed only from `.chalice/deployed/<stage>.json`:
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

    def chalice_deploy(self, arns) -> dict:
        """Step `chalice`: the functions, roles and REST API; Chalice's record of the REST API."""
        from chalicelib.functions import AUTHORIZER_CREDENTIALS_VARIABLE, AUTHORIZER_URI_VARIABLE

        self.stage.write_policies(arns)
        env = dict(os.environ)
        env[AUTHORIZER_URI_VARIABLE] = arns.authorizer_uri(self.stage.authorizer_function)
        # API Gateway invokes the authorizer with this role from the API's
        # first moment: no window before a permission is added.
        if self.authorizer_credentials:
            env[AUTHORIZER_CREDENTIALS_VARIABLE] = self.authorizer_credentials
        say("chalice", f"chalice deploy --stage {self.stage.name}")
        result = self.stage.chalice("deploy", "--stage", self.stage.name, env=env)
        output = result.stdout + result.stderr
        if result.returncode == 0:
            echo(output.rstrip())
            resources = json.loads(self.deployed_file.read_text())["resources"]
            return next(r for r in resources if r.get("resource_type") == "rest_api")
        if is_local_endpoint() and "RestApi operation" in output and self._functions_exist():
            say("chalice", "chalice deploy stopped at the REST API: " + _error_line(output))
            raise StepSkipped(
                "the local endpoint created the roles and Lambda functions but not the REST API "
                "(moto's ImportRestApi/PutRestApi does not take Chalice's Swagger 2.0 definition)"
            )
        raise DeployError(f"chalice deploy failed:\n{output}")

    def _functions_exist(self) -> bool:
        client = self.client("lambda")
        try:
            for name in (self.stage.api_function, self.stage.authorizer_function):
                client.get_function(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            return False
        say("chalice", f"functions {self.stage.api_function} and {self.stage.authorizer_function} exist")
        return True

    def wire_authorizer(self, arns, rest_api_id: str) -> None:
        """Step `authorizer`: every authorizer at the stage's function, no method outside them."""
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

    def finish_api(self, rest_api: dict) -> str:
        """Steps `responses` and `deployment`; the API's URL."""
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
        raise DeployError(f"REST API {rest_api_id} has no authorizer: protected routes would be open")
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


def verify_methods_protected(apigateway, rest_api_id: str, public: Set[tuple[str, str]] = frozenset()) -> int:
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
                    raise DeployError(f"{method} {resource['path']} is not behind the token authorizer")
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


def chalice_path(deployer: ChaliceDeployer) -> None:
    """Run the steps in order; on a local endpoint, say which it could not run."""
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
        for step in AFTER_THE_REST_API:
            say(step, "SKIPPED (local endpoint): needs the REST API")
        echo(
            "REHEARSAL: stack, stage variables, roles and functions done; "
            "REST API, authorizer wiring, gateway responses and deployment not run against this endpoint"
        )
        return
    deployer.save_chalice_state()
    rest_api_id = rest_api["rest_api_id"]
    deployer.wire_authorizer(arns, rest_api_id)
    url = deployer.finish_api(rest_api)
    echo(f"API URL: {url}")
    prepared = deployer.stage
    if prepared.domain:
        from infra.domain import ensure_custom_domain

        domain = ensure_custom_domain(deployer.client("apigateway"), *prepared.domain, rest_api_id,
                                      prepared.api_gateway_stage, say=lambda m: say("domain", m))
        say("domain", f"DNS: point {prepared.domain[0]} at {domain['target']} (CNAME, or an alias record in "
                      f"hosted zone {domain['hostedZoneId']})")
        echo(f"Base URL for clients: {domain['baseUrl']}")
    else:
        echo(f"Base URL for clients: {url.rstrip('/')} (all but the Scala coverage reporter)")
