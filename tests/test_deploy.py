"""The offline rehearsal of deployment (no AWS account here).

- `make package STAGE=prod`'s template: cfn-lint clean, and the security
  properties a reviewer would check by hand (authorizer on every protected
  route, no cache, gateway responses, no wildcard resources, private bucket).
- `make deploy STAGE=dev` end to end against a moto server on 127.0.0.1: the
  stack, stage variables, roles and functions; the REST API steps moto cannot
  do are reported as skipped, and the steps after them (authorizer wiring,
  gateway responses, deployment) are run against a REST API built in moto.

Both commands run in a copy of the project (they write `.chalice/` files);
Chalice's dependency zips are cached in build/deploy-cache between runs.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.gateway import GATEWAY_RESPONSES, TOKEN_AUTHORIZER_LOGICAL_ID, TOKEN_AUTHORIZER_NAME

# moto's CloudFormation skips the TLS-only bucket policy (checked on the template instead).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy")

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STAGE_VARIABLES = ("TOKENS_TABLE", "DIRECTORY_TABLE", "UPLOADS_TABLE", "UPLOADS_BUCKET", "AUDIT_TABLE",
                   "LATCHKEY_RESOURCE_PREFIX", "AWS_ENDPOINT_URL", "AWS_PROFILE")


def project_copy(target: Path) -> Path:
    """The committed project files (plus working changes) in `target`."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = PROJECT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    cache = PROJECT / "build" / "deploy-cache" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    (target / ".chalice" / "deployments").symlink_to(cache, target_is_directory=True)
    return target


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in STAGE_VARIABLES}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.update(extra)
    return env


def make(project: Path, target: str, stage: str, **env) -> subprocess.CompletedProcess:
    # The running venv is the project's: never let make (re)install it from the copy.
    venv = BIN.parent
    result = subprocess.run(["make", "--no-print-directory", "-o", str(venv / ".installed"), target,
                             f"STAGE={stage}", f"VENV={venv}"],
                            cwd=project, env=clean_env(**env), capture_output=True, text=True, timeout=300)
    return result


# -- make package -------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    project = project_copy(tmp_path_factory.mktemp("package"))
    result = make(project, "package", "prod")  # runs cfn-lint too
    assert result.returncode == 0, result.stdout + result.stderr
    path = project / "build" / "prod" / "package" / "sam.json"
    return path, json.loads(path.read_text())


@pytest.fixture(scope="module")
def swagger(packaged):
    return packaged[1]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def resources_of(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_package_template_passes_cfn_lint(packaged):
    result = subprocess.run([str(BIN / "cfn-lint"), str(packaged[0])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_every_protected_route_uses_the_authorizer(swagger):
    from app import app

    operations = 0
    for path, route_methods in app.routes.items():
        for method, entry in route_methods.items():
            operation = swagger["paths"][path][method.lower()]
            operations += 1
            if entry.authorizer is None:
                assert "security" not in operation, (method, path)
            else:
                assert operation["security"] == [{TOKEN_AUTHORIZER_NAME: []}], (method, path)
    public = {(method, path) for path, methods in app.routes.items()
              for method, entry in methods.items() if entry.authorizer is None}
    # The API's own description, its rendering and assets, the routes whose
    # own checks are the authorization (a CI identity token, GitHub's
    # signature, a token's value), and the two steps of signing in to the
    # console (before any session exists).
    assert operations > 1 and public == {
        ("GET", "/openapi.json"), ("POST", "/api/v3/oidc/token"), ("POST", "/api/v3/secret-scanning/github"),
        ("POST", "/api/v3/credentials/revoke"), ("GET", "/docs"), ("GET", "/static/{name}"),
        ("GET", "/console/signin"), ("GET", "/console/callback")}


def test_package_authorizer_is_a_request_authorizer_without_cache(packaged, swagger):
    definition = swagger["securityDefinitions"][TOKEN_AUTHORIZER_NAME]["x-amazon-apigateway-authorizer"]
    assert definition["type"] == "request"
    assert definition["authorizerResultTtlInSeconds"] == 0
    assert "identitySource" not in definition
    assert f"${{{TOKEN_AUTHORIZER_LOGICAL_ID}.Arn}}" in definition["authorizerUri"]["Fn::Sub"]
    resources = packaged[1]["Resources"]
    assert resources[TOKEN_AUTHORIZER_LOGICAL_ID]["Properties"]["Handler"] == f"app.{TOKEN_AUTHORIZER_NAME}"
    permission = resources["TokenAuthorizerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Fn::GetAtt": [TOKEN_AUTHORIZER_LOGICAL_ID, "Arn"]}
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"].endswith("${RestAPI}/authorizers/*")


def test_package_gateway_responses_answer_like_the_local_gateway(swagger):
    responses = swagger["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(GATEWAY_RESPONSES) | {"DEFAULT_4XX", "DEFAULT_5XX"}
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):  # every other answer of the gateway: its status, our shape
        assert "statusCode" not in responses[default]
        assert responses[default]["responseTemplates"]["application/json"] == (
            '{"error":$context.error.messageString}')
    assert responses["ACCESS_DENIED"]["statusCode"] == "404"
    assert json.loads(responses["ACCESS_DENIED"]["responseTemplates"]["application/json"]) == {"error": "not found"}
    for response_type, (status, body, headers) in GATEWAY_RESPONSES.items():
        answer = responses[response_type]
        assert answer["statusCode"] == str(status)
        assert json.loads(answer["responseTemplates"]["application/json"]) == body
        for name, value in headers.items():
            assert answer["responseParameters"][f"gatewayresponse.header.{name}"] == f"'{value}'"


def _statements(role):
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]
    assert not role["Properties"].get("ManagedPolicyArns")


def _resource_text(resource) -> str:
    return resource if isinstance(resource, str) else json.dumps(resource)


def test_package_policies_name_no_wildcard_resource(packaged):
    roles = resources_of(packaged[1], "AWS::IAM::Role")
    assert set(roles) == {"ApiHandlerRole", "TokenAuthorizerRole"}  # one role per function
    for name, role in roles.items():
        for statement in _statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in map(_resource_text, resources):
                assert resource != "*", (name, statement)
                if any(a.startswith("dynamodb:") for a in actions):
                    assert "*" not in resource.replace("${AWS::", ""), (name, resource)
                if any(a.startswith("s3:") for a in actions):
                    bucket_part = resource.split(":::", 1)[1].split("/", 1)[0]
                    assert "*" not in bucket_part, (name, resource)


def test_package_authorizer_may_only_read_record_last_use_and_append_audit_events(packaged):
    role = packaged[1]["Resources"]["TokenAuthorizerRole"]
    by_action = {}
    for statement in _statements(role):
        for action in statement["Action"]:
            by_action.setdefault(action, []).append(statement)
    data_actions = {a for a in by_action if a.startswith(("dynamodb:", "s3:"))}
    assert data_actions == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"}
    (read,) = by_action["dynamodb:GetItem"]
    assert [_resource_text(r) for r in read["Resource"]] == [_resource_text(_table_arn("tokens"))]
    (append,) = by_action["dynamodb:PutItem"]
    assert [_resource_text(r) for r in append["Resource"]] == [_resource_text(_table_arn("audit"))]
    (update,) = by_action["dynamodb:UpdateItem"]
    # A token's "last used", a console session's "last seen".
    assert update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == ["pk", "last_used_at",
                                                                                       "last_seen_at"]
    assert update["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"] == "NONE"
    assert [_resource_text(r) for r in update["Resource"]] == [_resource_text(_table_arn("tokens"))]


def _table_arn(name):
    prefix = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}"
    return {"Fn::Sub": f"{prefix}:table/latchkey-prod-{name}"}


def test_package_has_the_console_user_pool_its_domain_and_a_pkce_client(packaged):
    template = packaged[1]
    (pool,) = resources_of(template, "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert pool["DeletionPolicy"] == "Retain"  # prod
    (domain,) = resources_of(template, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["UserPoolId"] == {"Ref": "ConsoleUserPool"}
    (client,) = resources_of(template, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["GenerateSecret"] is False and props["AllowedOAuthFlows"] == ["code"]
    assert props["AllowedOAuthScopes"] == ["openid", "email"]
    assert "/console/callback" in json.dumps(props["CallbackURLs"])
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["OIDC_CLIENT_ID"] == {"Ref": "ConsoleUserPoolClient"}
    assert "${ConsoleUserPool}" in variables["OIDC_ISSUER"]["Fn::Sub"]
    assert variables["TOKENS_TABLE"] == "latchkey-prod-tokens"  # merged into, not replaced
    assert "OIDC_ISSUER" not in json.dumps(template["Resources"]["TokenAuthorizer"])


def test_package_bucket_is_private_encrypted_versioned_and_tls_only(packaged):
    resources = packaged[1]["Resources"]
    bucket = resources["UploadsBucket"]["Properties"]
    assert bucket["BucketName"] == "latchkey-prod-uploads"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert resources["UploadsBucket"]["DeletionPolicy"] == "Retain"
    (statement,) = resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_package_has_a_table_per_model_with_its_keys_and_indexes(packaged):
    from chalicelib.store.tables import TABLE_MODELS

    tables = resources_of(packaged[1], "AWS::DynamoDB::Table")
    assert len(tables) == len(TABLE_MODELS)
    for model in TABLE_MODELS:
        table = tables[f"{model.__name__}Table"]
        properties = table["Properties"]
        schema = model._get_schema()
        assert properties["TableName"].startswith("latchkey-prod-")
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"] == {"SSEEnabled": True}
        assert properties["DeletionProtectionEnabled"] is True and table["DeletionPolicy"] == "Retain"
        assert properties["KeySchema"][0]["KeyType"] == "HASH"
        assert sorted((k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]) == sorted(
            (k["AttributeName"], k["KeyType"]) for k in schema["key_schema"])
        assert sorted(i["IndexName"] for i in properties.get("GlobalSecondaryIndexes", [])) == sorted(
            i["index_name"] for i in schema["global_secondary_indexes"])


def test_package_functions_are_sized_per_function(packaged):
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    resources = packaged[1]["Resources"]
    for logical, function in (("APIHandler", "api_handler"), (TOKEN_AUTHORIZER_LOGICAL_ID, TOKEN_AUTHORIZER_NAME)):
        properties = resources[logical]["Properties"]
        sizing = config["lambda_functions"][function]
        assert properties["MemorySize"] == sizing["lambda_memory_size"]
        assert properties["Timeout"] == sizing["lambda_timeout"]
        assert properties["ReservedConcurrentExecutions"] == (
            config["stages"]["prod"]["lambda_functions"][function]["reserved_concurrency"])


# -- the generators, without Chalice ----------------------------------------------------


def test_table_resource_enables_ttl_for_a_ttl_attribute_and_spares_dev():
    from pynamodb.attributes import TTLAttribute, UnicodeAttribute
    from pynamodb.models import Model

    from infra.data import table_resource

    class Expiring(Model):
        class Meta:
            table_name = "latchkey-dev-expiring"

        pk = UnicodeAttribute(hash_key=True)
        expires = TTLAttribute(attr_name="ttl")

    table = table_resource(Expiring, "dev")
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["Properties"]["DeletionProtectionEnabled"] is False and table["DeletionPolicy"] == "Delete"


def test_ensure_stage_gives_a_new_stage_its_own_resources(tmp_path):
    from scripts.deploy import ensure_stage

    (tmp_path / ".chalice").mkdir()
    shutil.copy(PROJECT / ".chalice" / "config.json", tmp_path / ".chalice" / "config.json")
    variables = ensure_stage(tmp_path, "staging")
    assert variables["TOKENS_TABLE"] == "latchkey-staging-tokens"
    assert variables["UPLOADS_BUCKET"] == "latchkey-staging-uploads"
    saved = json.loads((tmp_path / ".chalice" / "config.json").read_text())
    assert saved["stages"]["dev"]["environment_variables"]["TOKENS_TABLE"] == "latchkey-dev-tokens"
    assert ensure_stage(tmp_path, "staging") == variables


def test_chalice_deploy_validation_accepts_the_app():
    from chalice.config import Config
    from chalice.deploy.validate import validate_configuration

    from app import app

    config = Config.create(chalice_stage="dev", app_name="latchkey", chalice_app=app, project_dir=str(PROJECT),
                           config_from_disk=json.loads((PROJECT / ".chalice" / "config.json").read_text()))
    validate_configuration(config)  # raises on what `chalice deploy` would refuse


# -- make deploy against moto ------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def boto(endpoint):
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    return lambda service: session.client(service, endpoint_url=endpoint)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, endpoint):
    project = project_copy(tmp_path_factory.mktemp("deploy"))
    result = make(project, "deploy", "dev", AWS_ENDPOINT_URL=endpoint)
    return project, result


def function_state(boto, name):
    configuration = boto("lambda").get_function(FunctionName=name)["Configuration"]
    keys = ("FunctionName", "Role", "MemorySize", "Timeout", "Runtime", "Handler", "Environment", "LastModified")
    return {key: configuration.get(key) for key in keys}


def test_deploy_rehearsal_does_what_moto_supports_and_says_what_it_skipped(deployed):
    _, result = deployed
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for line in ("[stack] latchkey-dev-data: CREATE_COMPLETE",
                 "[env] stage variables name the stack's",
                 "[chalice] functions latchkey-dev and latchkey-dev-token_authorizer exist",
                 "[authorizer] SKIPPED (local endpoint): needs the REST API",
                 "[responses] SKIPPED (local endpoint): needs the REST API",
                 "[deployment] SKIPPED (local endpoint): needs the REST API",
                 "REHEARSAL: stack, stage variables, roles and functions done"):
        assert line in output, output


def test_deploy_creates_the_tables_and_bucket(deployed, boto):
    from chalicelib.store.tables import TABLE_MODELS

    dynamodb = boto("dynamodb")
    names = set(dynamodb.list_tables()["TableNames"])
    assert {model.Meta.table_name for model in TABLE_MODELS} <= names
    tokens = dynamodb.describe_table(TableName="latchkey-dev-tokens")["Table"]
    assert tokens["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in tokens["GlobalSecondaryIndexes"]] == ["owner-index"]
    assert "latchkey-dev-uploads" in [b["Name"] for b in boto("s3").list_buckets()["Buckets"]]


def test_deploy_gives_each_function_its_role_sizing_and_stage_variables(deployed, boto):
    api = function_state(boto, "latchkey-dev")
    authorizer = function_state(boto, "latchkey-dev-token_authorizer")
    assert api["Role"].endswith(":role/latchkey-dev-api_handler")
    assert authorizer["Role"].endswith(":role/latchkey-dev-token_authorizer")
    assert (api["MemorySize"], api["Timeout"], authorizer["MemorySize"], authorizer["Timeout"]) == (512, 20, 256, 10)
    assert authorizer["Handler"] == "app.token_authorizer"
    assert authorizer["Environment"]["Variables"]["TOKENS_TABLE"] == "latchkey-dev-tokens"
    iam = boto("iam")
    policy = iam.get_role_policy(RoleName="latchkey-dev-token_authorizer",
                                 PolicyName="latchkey-dev-token_authorizer")["PolicyDocument"]
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert "arn:aws:dynamodb:us-east-1:123456789012:table/latchkey-dev-tokens" in resources
    assert not any(":s3:" in r for r in resources)


def test_deploy_rerun_changes_nothing_and_second_stage_spares_the_first(deployed, boto, endpoint):
    project, _ = deployed
    cfn = boto("cloudformation")

    def dev_state():
        stack = cfn.describe_stacks(StackName="latchkey-dev-data")["Stacks"][0]
        outputs = sorted((o["OutputKey"], o["OutputValue"]) for o in stack["Outputs"])
        resources = sorted((r["LogicalResourceId"], r["PhysicalResourceId"])
                           for r in cfn.list_stack_resources(StackName="latchkey-dev-data")["StackResourceSummaries"])
        functions = [function_state(boto, n) for n in ("latchkey-dev", "latchkey-dev-token_authorizer")]
        for function in functions:
            function.pop("LastModified")  # chalice deploy re-uploads the code
        return outputs, resources, functions, sorted(r["RoleName"] for r in boto("iam").list_roles()["Roles"])

    before = dev_state()
    again = make(project, "deploy", "dev", AWS_ENDPOINT_URL=endpoint)
    assert again.returncode == 0, again.stdout + again.stderr
    assert dev_state() == before

    dev_functions = [function_state(boto, n) for n in ("latchkey-dev", "latchkey-dev-token_authorizer")]
    prod = make(project, "deploy", "prod", AWS_ENDPOINT_URL=endpoint)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert [function_state(boto, n) for n in ("latchkey-dev", "latchkey-dev-token_authorizer")] == dev_functions
    assert function_state(boto, "latchkey-prod")["Role"].endswith(":role/latchkey-prod-api_handler")
    assert "latchkey-prod-tokens" in boto("dynamodb").list_tables()["TableNames"]


def test_post_api_steps_wire_authorizer_responses_and_deployment(deployed, boto):
    """What follows `chalice deploy` on AWS, run against a REST API built in moto."""
    from infra.arns import ConcreteArns
    from scripts.deploy import (
        create_api_deployment,
        put_gateway_responses,
        verify_methods_protected,
        wire_authorizer,
    )

    apigateway, lambda_client = boto("apigateway"), boto("lambda")
    rest_api_id = apigateway.create_rest_api(name="latchkey-rehearsal")["id"]
    authorizer_id = apigateway.create_authorizer(
        restApiId=rest_api_id, name=TOKEN_AUTHORIZER_NAME, type="REQUEST", authorizerResultTtlInSeconds=300,
        authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/wrong/invocations")["id"]
    root = apigateway.get_resources(restApiId=rest_api_id)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=rest_api_id, parentId=root, pathPart="user")["id"]
    apigateway.put_method(restApiId=rest_api_id, resourceId=resource, httpMethod="GET",
                          authorizationType="CUSTOM", authorizerId=authorizer_id)
    apigateway.put_integration(restApiId=rest_api_id, resourceId=resource, httpMethod="GET", type="MOCK")
    arns = ConcreteArns(region="us-east-1", account="123456789012")
    function = "latchkey-dev-token_authorizer"
    for _ in range(2):  # idempotent
        wire_authorizer(apigateway, lambda_client, arns, rest_api_id, function, ttl=0)
        put_gateway_responses(apigateway, rest_api_id)

    authorizer = apigateway.get_authorizer(restApiId=rest_api_id, authorizerId=authorizer_id)
    assert authorizer["authorizerUri"] == arns.authorizer_uri(function)
    assert int(authorizer["authorizerResultTtlInSeconds"]) == 0
    statements = json.loads(lambda_client.get_policy(FunctionName=function)["Policy"])["Statement"]
    mine = [s for s in statements if s["Sid"] == f"{function}-apigateway"]
    assert len(mine) == 1
    assert f"{rest_api_id}/authorizers/*" in json.dumps(mine[0])
    denied = apigateway.get_gateway_response(restApiId=rest_api_id, responseType="ACCESS_DENIED")
    assert denied["statusCode"] == "404"
    assert json.loads(denied["responseTemplates"]["application/json"]) == {"error": "not found"}
    assert verify_methods_protected(apigateway, rest_api_id) == 1
    create_api_deployment(apigateway, rest_api_id, "api")
    assert apigateway.get_stage(restApiId=rest_api_id, stageName="api")["stageName"] == "api"


def test_verify_methods_protected_refuses_an_open_method(boto):
    import click

    from scripts.deploy import verify_methods_protected

    apigateway = boto("apigateway")
    rest_api_id = apigateway.create_rest_api(name="latchkey-open")["id"]
    root = apigateway.get_resources(restApiId=rest_api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=rest_api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    with pytest.raises(click.ClickException, match="GET / is not behind the token authorizer"):
        verify_methods_protected(apigateway, rest_api_id)


def test_deploy_command_finishes_the_api_when_chalice_creates_it(deployed, boto, endpoint, monkeypatch, tmp_path):
    """The whole `deploy` command as on AWS, with Chalice's REST API step stood in
    for by a REST API built in moto (wrong authorizer URI and TTL, every app
    route behind the authorizer): the wrapper must fix, check and deploy it."""
    from click.testing import CliRunner

    from app import app
    from scripts import deploy

    apigateway = boto("apigateway")

    def chalice_deploy(self, arns):
        self.stage.write_policies(arns)
        rest_api_id = apigateway.create_rest_api(name="latchkey-dev")["id"]
        authorizer_id = apigateway.create_authorizer(
            restApiId=rest_api_id, name=TOKEN_AUTHORIZER_NAME, type="REQUEST", authorizerResultTtlInSeconds=300,
            authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/wrong/invocations")["id"]
        root = apigateway.get_resources(restApiId=rest_api_id)["items"][0]["id"]
        for number, (_path, methods) in enumerate(sorted(app.routes.items())):
            resource = apigateway.create_resource(restApiId=rest_api_id, parentId=root, pathPart=f"r{number}")["id"]
            for method in methods:
                apigateway.put_method(restApiId=rest_api_id, resourceId=resource, httpMethod=method,
                                      authorizationType="CUSTOM", authorizerId=authorizer_id)
                apigateway.put_integration(restApiId=rest_api_id, resourceId=resource, httpMethod=method,
                                           type="MOCK")
        record = {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": rest_api_id,
                  "rest_api_url": f"https://{rest_api_id}.example/api/"}
        self.deployed_file.parent.mkdir(parents=True, exist_ok=True)
        self.deployed_file.write_text(json.dumps({"resources": [record], "schema_version": "2.0"}))
        return record

    project = project_copy(tmp_path)
    saved = dict(os.environ)
    monkeypatch.setattr(deploy.Deployer, "chalice_deploy", chalice_deploy)
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        result = CliRunner().invoke(deploy.cli, ["deploy", "--stage", "dev", "--project-dir", str(project)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.exit_code == 0, result.output + repr(result.exception)
    routes = sum(len(methods) for methods in app.routes.values())
    (rest_api,) = [a for a in apigateway.get_rest_apis()["items"] if a["name"] == "latchkey-dev"]
    for line in (f"[authorizer] {TOKEN_AUTHORIZER_NAME} (REQUEST) -> latchkey-dev-token_authorizer, cache TTL 0s",
                 f"[authorizer] {routes} methods are behind it",
                 "[responses] ACCESS_DENIED -> 404 {\"error\":\"not found\"}",
                 "[deployment] deployed stage 'api'",
                 f"API URL: https://{rest_api['id']}.example/api/"):
        assert line in result.output, result.output
    assert "SKIPPED" not in result.output
    saved = boto("ssm").get_parameter(Name="/latchkey/dev/chalice-deployed")["Parameter"]["Value"]
    assert json.loads(saved)["resources"][0]["rest_api_id"] == rest_api["id"]


def test_restore_chalice_state_gives_a_fresh_clone_the_stage_record(deployed, boto, endpoint, tmp_path):
    """A clone without .chalice/deployed/ must update the stage's REST API, not create another."""
    from scripts import deploy

    boto("ssm").put_parameter(Name="/latchkey/staging/chalice-deployed", Value='{"resources": []}', Type="String")
    project = project_copy(tmp_path)
    saved = dict(os.environ)
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        deployer = deploy.Deployer(deploy.prepare("staging", project))
        deployer.restore_chalice_state()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (project / ".chalice" / "deployed" / "staging.json").read_text() == '{"resources": []}'
