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
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.functions import TOKEN_AUTHORIZER_LOGICAL_ID, TOKEN_AUTHORIZER_NAME
from chalicelib.refusals import GATEWAY_RESPONSES, render_template
from scripts.ports import free_port
from tests.helpers import shell_environ

# moto's CloudFormation skips the TLS-only bucket policy (checked on the template instead).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy")

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


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
    return shell_environ(fake_aws=True, PATH=f"{BIN}:{os.environ.get('PATH', '')}", **extra)


def make(project: Path, target: str, stage: str, path: str = "stack", **env) -> subprocess.CompletedProcess:
    # The running venv is the project's: never let make (re)install it from the copy.
    venv = BIN.parent
    result = subprocess.run(["make", "--no-print-directory", "-o", str(venv / ".installed-dev"),
                             "-o", str(venv / ".installed-run"), target,
                             f"STAGE={stage}", f"VENV={venv}", f"DEPLOY_PATH={path}"],
                            cwd=project, env=clean_env(**env), capture_output=True, text=True, timeout=300)
    return result


# -- make package -------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    project = project_copy(tmp_path_factory.mktemp("package"))
    result = make(project, "package", "prod")  # runs cfn-lint too
    assert result.returncode == 0, result.stdout + result.stderr
    path = project / "build" / "prod" / "package" / "sam.json"
    return path, json.loads(path.read_text()), result.stdout


DOMAIN = "latchkey.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def packaged_with_domain(tmp_path_factory):
    """`make package STAGE=prod DOMAIN_NAME=... CERTIFICATE_ARN=...` (the done-means command of issue 9)."""
    project = project_copy(tmp_path_factory.mktemp("package-domain"))
    venv = BIN.parent
    result = subprocess.run(["make", "--no-print-directory", "-o", str(venv / ".installed"), "package",
                             "STAGE=prod", f"VENV={venv}", f"DOMAIN_NAME={DOMAIN}", f"CERTIFICATE_ARN={CERTIFICATE}"],
                            cwd=project, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr  # cfn-lint included
    path = project / "build" / "prod" / "package" / "sam.json"
    return path, json.loads(path.read_text()), result.stdout


@pytest.mark.slow
def test_package_with_a_domain_serves_the_stage_at_its_root(packaged_with_domain):
    from infra.domain import DOMAIN_LOGICAL_ID, MAPPING_LOGICAL_ID

    path, template, output = packaged_with_domain
    lint = subprocess.run([str(BIN / "cfn-lint"), str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    resources = template["Resources"]
    domain = resources[DOMAIN_LOGICAL_ID]
    assert domain["Type"] == "AWS::ApiGateway::DomainName"
    assert domain["Properties"] == {"DomainName": DOMAIN, "RegionalCertificateArn": CERTIFICATE,
                                    "EndpointConfiguration": {"Types": ["REGIONAL"]}, "SecurityPolicy": "TLS_1_2"}
    mapping = resources[MAPPING_LOGICAL_ID]
    assert mapping["Type"] == "AWS::ApiGateway::BasePathMapping"
    assert "BasePath" not in mapping["Properties"]  # empty: the stage answers at https://<domain>/2.0/...
    assert mapping["Properties"]["RestApiId"] == {"Ref": "RestAPI"}
    assert mapping["Properties"]["DomainName"] == {"Ref": DOMAIN_LOGICAL_ID}
    assert mapping["Properties"]["Stage"] == {"Ref": "RestAPI.Stage"}
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    outputs = template["Outputs"]
    assert outputs["CustomDomainTarget"]["Value"] == {"Fn::GetAtt": [DOMAIN_LOGICAL_ID, "RegionalDomainName"]}
    assert outputs["CustomDomainHostedZoneId"]["Value"] == {"Fn::GetAtt": [DOMAIN_LOGICAL_ID, "RegionalHostedZoneId"]}
    assert outputs["CustomDomainBaseUrl"]["Value"] == f"https://{DOMAIN}"
    assert f"clients' base URL: https://{DOMAIN}" in output and "us-east-1" in output


@pytest.mark.slow
def test_package_without_a_domain_says_why_one_is_needed(packaged):
    from infra.domain import DOMAIN_LOGICAL_ID

    assert DOMAIN_LOGICAL_ID not in packaged[1]["Resources"]
    assert 'new URL(new URL(base), "/2.0")' in packaged[2] and "DOMAIN_NAME" in packaged[2]


@pytest.mark.parametrize("domain,certificate,message", [
    (DOMAIN, "", "CERTIFICATE_ARN is missing"),
    ("", CERTIFICATE, "DOMAIN_NAME is missing"),
    ("https://latchkey.example.com", CERTIFICATE, "DOMAIN_NAME: a lower-case host name"),
    ("Latchkey.Example.com", CERTIFICATE, "DOMAIN_NAME: a lower-case host name"),
    ("localhost", CERTIFICATE, "DOMAIN_NAME: a lower-case host name"),
    (DOMAIN, "arn:aws:iam::123456789012:server-certificate/x", "CERTIFICATE_ARN: an ACM certificate ARN"),
])
def test_domain_settings_are_checked(domain, certificate, message):
    from infra.domain import DomainError, check

    with pytest.raises(DomainError, match=message):
        check(domain, certificate)


def test_ensure_custom_domain_is_idempotent_against_moto():
    """The deploy path's domain step, twice, on moto's API Gateway (in process)."""
    import boto3
    from moto import mock_aws

    from infra.domain import ensure_custom_domain

    with mock_aws():
        apigateway = boto3.client("apigateway", region_name="us-east-1")
        api_id = apigateway.create_rest_api(name="latchkey-dev")["id"]
        root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api_id, stageName="api")
        said = []
        first = ensure_custom_domain(apigateway, DOMAIN, CERTIFICATE, api_id, "api", say=said.append)
        second = ensure_custom_domain(apigateway, DOMAIN, CERTIFICATE, api_id, "api", say=said.append)
        assert first["baseUrl"] == second["baseUrl"] == f"https://{DOMAIN}"
        assert said[0] == f"created custom domain {DOMAIN}" and said[1].startswith("mapped https://")
        # (moto maps the root again where AWS answers ConflictException, handled by a read and a compare)
        assert said[2] == f"custom domain {DOMAIN} is up to date"
        (mapping,) = apigateway.get_base_path_mappings(domainName=DOMAIN)["items"]
        assert (mapping["restApiId"], mapping["stage"]) == (api_id, "api")
        assert mapping.get("basePath") in ("(none)", "", None)


def test_ensure_custom_domain_corrects_a_root_mapped_elsewhere():
    """On AWS a second root mapping is a ConflictException: read it, correct it if it maps another API."""
    from infra.domain import ensure_custom_domain

    class Conflict(Exception):
        pass

    class NotFound(Exception):
        pass

    class Gateway:
        exceptions = type("E", (), {"ConflictException": Conflict, "NotFoundException": NotFound})
        def __init__(self):
            self.calls = []

        def get_domain_name(self, domainName):
            return {"regionalCertificateArn": CERTIFICATE, "securityPolicy": "TLS_1_0",
                    "regionalDomainName": "d-1.execute-api.us-east-1.amazonaws.com", "regionalHostedZoneId": "Z1"}

        def update_domain_name(self, **kwargs):
            self.calls.append(("update_domain_name", kwargs["patchOperations"]))
            return {**self.get_domain_name(kwargs["domainName"]), "securityPolicy": "TLS_1_2"}

        def create_base_path_mapping(self, **kwargs):
            raise Conflict()

        def get_base_path_mapping(self, domainName, basePath):
            return {"basePath": "(none)", "restApiId": "old", "stage": "api"}

        def update_base_path_mapping(self, **kwargs):
            self.calls.append(("update_base_path_mapping", kwargs["patchOperations"]))

    gateway = Gateway()
    answer = ensure_custom_domain(gateway, DOMAIN, CERTIFICATE, "new", "api", say=lambda message: None)
    assert answer == {"target": "d-1.execute-api.us-east-1.amazonaws.com", "hostedZoneId": "Z1",
                      "baseUrl": f"https://{DOMAIN}"}
    assert gateway.calls == [
        ("update_domain_name", [{"op": "replace", "path": "/securityPolicy", "value": "TLS_1_2"}]),
        ("update_base_path_mapping", [{"op": "replace", "path": "/restapiId", "value": "new"},
                                      {"op": "replace", "path": "/stage", "value": "api"}]),
    ]


@pytest.fixture(scope="module")
def swagger(packaged):
    return packaged[1]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def resources_of(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.slow
def test_package_template_passes_cfn_lint(packaged):
    result = subprocess.run([str(BIN / "cfn-lint"), str(packaged[0])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_package_gateway_responses_answer_like_the_local_gateway(swagger):
    responses = swagger["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(GATEWAY_RESPONSES) | {"DEFAULT_4XX", "DEFAULT_5XX"}
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):  # every other answer of the gateway: its status, our shape
        assert "statusCode" not in responses[default]
        assert responses[default]["responseTemplates"]["application/json"] == (
            '{"error":$context.error.messageString}')
    assert responses["ACCESS_DENIED"]["statusCode"] == "404"
    # Rendered without a hint (the authorizer's context then holds "" for it).
    assert json.loads(render_template(responses["ACCESS_DENIED"]["responseTemplates"]["application/json"], {})) == {
        "error": "not found"}
    for response_type, (status, body, headers) in GATEWAY_RESPONSES.items():
        answer = responses[response_type]
        assert answer["statusCode"] == str(status)
        assert json.loads(render_template(answer["responseTemplates"]["application/json"], {})) == body
        for name, value in headers.items():
            assert answer["responseParameters"][f"gatewayresponse.header.{name}"] == f"'{value}'"


def _statements(role):
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]
    assert not role["Properties"].get("ManagedPolicyArns")


def _resource_text(resource) -> str:
    return resource if isinstance(resource, str) else json.dumps(resource)


@pytest.mark.slow
def test_package_policies_name_no_wildcard_resource(packaged):
    roles = resources_of(packaged[1], "AWS::IAM::Role")
    # One role per function, and API Gateway's own for writing access logs
    # (AWS's managed AmazonAPIGatewayPushToCloudWatchLogs, nothing else).
    gateway = roles.pop("ApiGatewayCloudWatchRole")
    assert gateway["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert set(roles) == {"ApiHandlerRole", "TokenAuthorizerRole", "SweeperRole"}
    for name, role in roles.items():
        for statement in _statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
                assert resources == ["*"]  # X-Ray has no resource-level permissions
                continue
            for resource in map(_resource_text, resources):
                assert resource != "*", (name, statement)
                if any(a.startswith("dynamodb:") for a in actions):
                    assert "*" not in resource.replace("${AWS::", ""), (name, resource)
                if any(a.startswith("s3:") for a in actions):
                    bucket_part = resource.split(":::", 1)[1].split("/", 1)[0]
                    assert "*" not in bucket_part, (name, resource)


@pytest.mark.slow
def test_package_authorizer_may_only_read_record_last_use_and_append_audit_events(packaged):
    role = packaged[1]["Resources"]["TokenAuthorizerRole"]
    by_action = {}
    for statement in _statements(role):
        for action in statement["Action"]:
            by_action.setdefault(action, []).append(statement)
    data_actions = {a for a in by_action if a.startswith(("dynamodb:", "s3:"))}
    assert data_actions == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"}
    (read,) = by_action["dynamodb:GetItem"]
    assert [_resource_text(r) for r in read["Resource"]] == [_resource_text(_table_arn("tokens"))]
    (append,) = by_action["dynamodb:PutItem"]
    assert [_resource_text(r) for r in append["Resource"]] == [_resource_text(_table_arn("audit"))]
    (update,) = by_action["dynamodb:UpdateItem"]
    # A token's "last used" (and the lifecycle's activity and use count), a console session's "last seen".
    assert update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == [
        "pk", "last_used_at", "active_at", "uses", "last_seen_at"]
    assert update["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"] == "NONE"
    assert [_resource_text(r) for r in update["Resource"]] == [_resource_text(_table_arn("tokens"))]


def _table_arn(name):
    prefix = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}"
    return {"Fn::Sub": f"{prefix}:table/latchkey-prod-{name}"}


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    from infra.stage import ensure_stage

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

    port = free_port()
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
    result = make(project, "deploy", "dev", "chalice", AWS_ENDPOINT_URL=endpoint)
    return project, result


def function_state(boto, name):
    configuration = boto("lambda").get_function(FunctionName=name)["Configuration"]
    keys = ("FunctionName", "Role", "MemorySize", "Timeout", "Runtime", "Handler", "Environment", "LastModified")
    return {key: configuration.get(key) for key in keys}


def succeeded_saying(result, *lines) -> str:
    """`result`'s output, once it is known to have succeeded and to hold each of `lines`."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for line in lines:
        assert line in output, output
    return output


@pytest.mark.slow
def test_deploy_rehearsal_does_what_moto_supports_and_says_what_it_skipped(deployed):
    _, result = deployed
    succeeded_saying(
        result,
        "[stack] latchkey-dev-data: CREATE_COMPLETE",
        "[env] stage variables name the stack's",
        "[chalice] functions latchkey-dev and latchkey-dev-token_authorizer exist",
        "[authorizer] SKIPPED (local endpoint): needs the REST API",
        "[responses] SKIPPED (local endpoint): needs the REST API",
        "[deployment] SKIPPED (local endpoint): needs the REST API",
        "REHEARSAL: stack, stage variables, roles and functions done",
        '[domain] no custom domain: the Scala coverage reporter', 'new URL(new URL(base), "/2.0")')


@pytest.mark.slow
def test_deploy_creates_the_tables_and_bucket(deployed, boto):
    from chalicelib.store.tables import TABLE_MODELS

    dynamodb = boto("dynamodb")
    names = set(dynamodb.list_tables()["TableNames"])
    assert {model.Meta.table_name for model in TABLE_MODELS} <= names
    tokens = dynamodb.describe_table(TableName="latchkey-dev-tokens")["Table"]
    assert tokens["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(i["IndexName"] for i in tokens["GlobalSecondaryIndexes"]) == [
        "activity-index", "expiry-index", "owner-index"]  # the last two: the sweeper's (issue 16)
    assert "latchkey-dev-uploads" in [b["Name"] for b in boto("s3").list_buckets()["Buckets"]]


@pytest.mark.slow
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


@pytest.mark.slow
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
    again = make(project, "deploy", "dev", "chalice", AWS_ENDPOINT_URL=endpoint)
    assert again.returncode == 0, again.stdout + again.stderr
    assert dev_state() == before

    dev_functions = [function_state(boto, n) for n in ("latchkey-dev", "latchkey-dev-token_authorizer")]
    prod = make(project, "deploy", "prod", "chalice", AWS_ENDPOINT_URL=endpoint)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert [function_state(boto, n) for n in ("latchkey-dev", "latchkey-dev-token_authorizer")] == dev_functions
    assert function_state(boto, "latchkey-prod")["Role"].endswith(":role/latchkey-prod-api_handler")
    assert "latchkey-prod-tokens" in boto("dynamodb").list_tables()["TableNames"]


@pytest.mark.slow
def test_post_api_steps_wire_authorizer_responses_and_deployment(deployed, boto):
    """What follows `chalice deploy` on AWS, run against a REST API built in moto."""
    from infra.arns import ConcreteArns
    from infra.deploy_chalice import (
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
    assert json.loads(render_template(denied["responseTemplates"]["application/json"], {})) == {"error": "not found"}
    assert verify_methods_protected(apigateway, rest_api_id) == 1
    create_api_deployment(apigateway, rest_api_id, "api")
    assert apigateway.get_stage(restApiId=rest_api_id, stageName="api")["stageName"] == "api"


@pytest.mark.slow
def test_verify_methods_protected_refuses_an_open_method(boto):
    import click

    from infra.deploy_chalice import verify_methods_protected

    apigateway = boto("apigateway")
    rest_api_id = apigateway.create_rest_api(name="latchkey-open")["id"]
    root = apigateway.get_resources(restApiId=rest_api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=rest_api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    with pytest.raises(click.ClickException, match="GET / is not behind the token authorizer"):
        verify_methods_protected(apigateway, rest_api_id)


@pytest.mark.slow
def test_deploy_command_finishes_the_api_when_chalice_creates_it(deployed, boto, endpoint, monkeypatch, tmp_path):
    """The whole `deploy` command as on AWS, with Chalice's REST API step stood in
    for by a REST API built in moto (wrong authorizer URI and TTL, every app
    route behind the authorizer): the wrapper must fix, check and deploy it."""
    from click.testing import CliRunner

    from app import app
    from infra.deploy_chalice import ChaliceDeployer
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
    monkeypatch.setattr(ChaliceDeployer, "chalice_deploy", chalice_deploy)
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        result = CliRunner().invoke(deploy.cli, ["deploy", "--stage", "dev", "--path", "chalice",
                                                 "--project-dir", str(project),
                                                 "--domain-name", DOMAIN, "--certificate-arn", CERTIFICATE])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.exit_code == 0, result.output + repr(result.exception)
    routes = sum(len(methods) for methods in app.routes.values())
    (rest_api,) = [a for a in apigateway.get_rest_apis()["items"] if a["name"] == "latchkey-dev"]
    for line in (f"[authorizer] {TOKEN_AUTHORIZER_NAME} (REQUEST) -> latchkey-dev-token_authorizer, cache TTL 0s",
                 f"[authorizer] {routes} methods are behind it",
                 "[responses] ACCESS_DENIED -> 404 {\"error\":\"not found\"$context.authorizer.hintJson}",
                 "[deployment] deployed stage 'api'",
                 f"API URL: https://{rest_api['id']}.example/api/",
                 f"[domain] created custom domain {DOMAIN}",
                 f"[domain] mapped https://{DOMAIN}/ to stage 'api' of REST API {rest_api['id']}",
                 f"Base URL for clients: https://{DOMAIN}"):
        assert line in result.output, result.output
    assert "SKIPPED" not in result.output and "no custom domain" not in result.output
    (mapping,) = apigateway.get_base_path_mappings(domainName=DOMAIN)["items"]
    assert (mapping["restApiId"], mapping["stage"]) == (rest_api["id"], "api")
    saved = boto("ssm").get_parameter(Name="/latchkey/dev/chalice-deployed")["Parameter"]["Value"]
    assert json.loads(saved)["resources"][0]["rest_api_id"] == rest_api["id"]


@pytest.mark.slow
def test_restore_chalice_state_gives_a_fresh_clone_the_stage_record(deployed, boto, endpoint, tmp_path):
    """A clone without .chalice/deployed/ must update the stage's REST API, not create another."""
    from infra.deploy_chalice import ChaliceDeployer
    from infra.stage import prepare

    boto("ssm").put_parameter(Name="/latchkey/staging/chalice-deployed", Value='{"resources": []}', Type="String")
    project = project_copy(tmp_path)
    saved = dict(os.environ)
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        deployer = ChaliceDeployer(prepare("staging", project))
        deployer.restore_chalice_state()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (project / ".chalice" / "deployed" / "staging.json").read_text() == '{"resources": []}'


def test_deploy_refuses_a_certificate_of_another_region(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from scripts import deploy

    project = project_copy(tmp_path)
    saved = dict(os.environ)
    try:
        os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        result = CliRunner().invoke(deploy.cli, [
            "deploy", "--stage", "dev", "--project-dir", str(project), "--domain-name", DOMAIN,
            "--certificate-arn", CERTIFICATE.replace("us-east-1", "eu-west-1")])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.exit_code == 1
    assert "CERTIFICATE_ARN is in eu-west-1, the stage in us-east-1" in result.output


@pytest.mark.slow
def test_package_sweeper_runs_daily_with_its_own_role(packaged):
    """Issue 16: the sweeper is a scheduled function in the deployed stack."""
    resources = packaged[1]["Resources"]
    sweeper = resources["Sweeper"]
    assert sweeper["Properties"]["Handler"] == "app.sweeper"
    schedules = [event["Properties"]["Schedule"] for event in sweeper["Properties"].get("Events", {}).values()
                 if event["Type"] == "Schedule"]
    assert schedules == ["rate(1 day)"]
    role = resources["SweeperRole"]
    actions = {action for statement in _statements(role) for action in statement["Action"]}
    assert "dynamodb:Scan" not in actions and "dynamodb:Query" in actions


# -- operations in the template (infra/operations.py) ---------------------------------------


@pytest.mark.slow
def test_package_every_function_keeps_its_logs_for_the_retention_setting(packaged):
    template = packaged[1]
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    groups = resources_of(template, "AWS::Logs::LogGroup")
    functions = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    named = {g["Properties"]["LogGroupName"].get("Fn::Sub", "") for g in groups.values()
             if isinstance(g["Properties"]["LogGroupName"], dict)}
    assert named == {f"/aws/lambda/${{{function}}}" for function in functions}
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    names = {template["Resources"][f]["Properties"]["FunctionName"] for f in functions}
    # What the policies' log ARNs name.
    assert names == {"latchkey-prod", f"latchkey-prod-{TOKEN_AUTHORIZER_NAME}", "latchkey-prod-sweeper"}


@pytest.mark.slow
def test_package_api_stage_has_json_access_logs_throttling_and_tracing(packaged):
    resources = packaged[1]["Resources"]
    api = resources["RestAPI"]["Properties"]
    assert api["Name"] == "latchkey-prod" and api["TracingEnabled"] is True
    access = api["AccessLogSetting"]
    assert "${ApiAccessLogGroup}" in access["DestinationArn"]["Fn::Sub"]
    line = json.loads(access["Format"])  # one JSON object per request
    assert line["requestId"] == "$context.requestId" and line["status"] == "$context.status"
    assert "$context.path" not in access["Format"]  # the route template only: no client text in the logs
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    (settings,) = api["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottleBurstLimit"}
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert resources["APIHandler"]["Properties"]["Tracing"] == "Active"
    assert resources[TOKEN_AUTHORIZER_LOGICAL_ID]["Properties"]["Tracing"] == "PassThrough"
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}


@pytest.mark.slow
def test_package_optional_web_acl_limits_each_address(packaged):
    template = packaged[1]
    assert template["Parameters"]["WafRateLimit"]["Default"] == 0  # off unless set
    acl = template["Resources"]["WebAcl"]
    assert acl["Condition"] == "HasWebAcl" and template["Resources"]["WebAclAssociation"]["Condition"] == "HasWebAcl"
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": {"Ref": "WafRateLimit"}, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    body = acl["Properties"]["CustomResponseBodies"]["too-many-requests"]["Content"]
    assert "error" in json.loads(body)
    from infra.operations import CODACY_RATE_PER_5_MINUTES

    assert str(CODACY_RATE_PER_5_MINUTES) in template["Parameters"]["WafRateLimit"]["Description"]


@pytest.mark.slow
def test_package_alarms_cover_5xx_rate_authorizer_errors_and_throttles(packaged):
    alarms = resources_of(packaged[1], "AWS::CloudWatch::Alarm")
    by_metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"],
                  json.dumps(a["Properties"]["Dimensions"])): a["Properties"] for a in alarms.values()}
    assert len(by_metric) == 4
    rate = alarms["Api5xxRateAlarm"]["Properties"]
    assert (rate["Namespace"], rate["MetricName"], rate["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Average")
    assert {"Name": "ApiName", "Value": "latchkey-prod"} in rate["Dimensions"]
    errors = alarms["AuthorizerErrorsAlarm"]["Properties"]
    assert errors["MetricName"] == "Errors"
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": TOKEN_AUTHORIZER_LOGICAL_ID}}]
    throttled = {json.dumps(alarms[n]["Properties"]["Dimensions"]) for n in ("ApiThrottlesAlarm",
                                                                              "AuthorizerThrottlesAlarm")}
    assert throttled == {json.dumps([{"Name": "FunctionName", "Value": {"Ref": f}}])
                         for f in ("APIHandler", TOKEN_AUTHORIZER_LOGICAL_ID)}
    operations = (PROJECT / "docs" / "operations.md").read_text()
    for alarm in alarms.values():
        description = alarm["Properties"]["AlarmDescription"]
        anchor = description.split("docs/operations.md#")[1]
        assert f'<a id="{anchor}"></a>' in operations, anchor  # each says what to do, documented
        assert alarm["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"


@pytest.mark.slow
def test_package_reports_its_size_and_leaves_out_the_runtimes_sdk(packaged):
    import zipfile

    path = packaged[0]
    with zipfile.ZipFile(path.parent / "deployment.zip") as package:
        tops = {name.split("/", 1)[0] for name in package.namelist()}
    assert not {"botocore", "boto3", "jmespath", "urllib3", "dateutil", "six.py"} & tops
    assert {"pynamodb", "chalicelib", "aws_lambda_powertools", "jwt", "app.py"} <= tops


def test_deep_merge_keeps_both_sides():
    from infra.package import deep_merge

    merged = deep_merge({"A": {"Properties": {"X": 1, "L": [1]}}}, {"A": {"Properties": {"Y": 2, "L": [2]}}, "B": {}})
    assert merged == {"A": {"Properties": {"X": 1, "Y": 2, "L": [2]}}, "B": {}}


# -- make deploy's default path against moto ---------------------------------------------


@pytest.fixture(scope="module")
def stack_deployed(tmp_path_factory, endpoint):
    project = project_copy(tmp_path_factory.mktemp("stack"))
    first = make(project, "deploy", "qa", AWS_ENDPOINT_URL=endpoint)
    again = make(project, "deploy", "qa", AWS_ENDPOINT_URL=endpoint)
    return project, first, again


@pytest.mark.slow
def test_default_deploy_is_one_stack_from_one_change_set(stack_deployed, boto):
    _, first, again = stack_deployed
    output = succeeded_saying(
        first,
        "[lock] holding /latchkey/qa/deploy-lock",
        "[package] deployment.zip:",
        "[artifacts] created bucket latchkey-qa-artifacts-123456789012-us-east-1",
        "[stack] SKIPPED (local endpoint):",
        "(CREATE):",
        "[stack] latchkey-qa: CREATE_COMPLETE",
        "[lock] released /latchkey/qa/deploy-lock")
    assert "chalice deploy" not in output and "REHEARSAL: stack latchkey-qa from one change set" in output
    assert again.returncode == 0 and "[stack] latchkey-qa is up to date" in again.stdout, again.stdout + again.stderr
    cfn = boto("cloudformation")
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"] if "qa" in s["StackName"]]
    assert names == ["latchkey-qa"]  # tables, functions, roles, logs: one stack
    logical = {r["LogicalResourceId"]: r["ResourceType"]
               for r in cfn.list_stack_resources(StackName="latchkey-qa")["StackResourceSummaries"]}
    assert {"TokenTable", "UploadsBucket", "APIHandler", TOKEN_AUTHORIZER_LOGICAL_ID, "ApiHandlerRole",
            "APIHandlerLogGroup", "TokenAuthorizerLogGroup", "ApiAccessLogGroup"} <= set(logical)


@pytest.mark.slow
def test_default_deploy_creates_named_functions_with_their_roles_and_logs(stack_deployed, boto):
    functions = {f["FunctionName"]: f for f in boto("lambda").list_functions()["Functions"]}
    api, authorizer = functions["latchkey-qa"], functions[f"latchkey-qa-{TOKEN_AUTHORIZER_NAME}"]
    assert authorizer["Handler"] == f"app.{TOKEN_AUTHORIZER_NAME}"
    assert authorizer["Environment"]["Variables"]["LATCHKEY_FUNCTION"] == "authorizer"
    assert api["Environment"]["Variables"]["TOKENS_TABLE"] == "latchkey-qa-tokens"
    assert api["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"
    groups = {g["logGroupName"]: g for g in boto("logs").describe_log_groups()["logGroups"]}
    for name in ("/aws/lambda/latchkey-qa", f"/aws/lambda/latchkey-qa-{TOKEN_AUTHORIZER_NAME}"):
        assert groups[name]["retentionInDays"] == 30
    assert "latchkey-qa-tokens" in boto("dynamodb").list_tables()["TableNames"]


@pytest.mark.slow
def test_concurrent_deploys_of_a_stage_are_serialised(endpoint, boto):
    import click

    from infra.deploy import DeployLock

    ssm = boto("ssm")
    with (DeployLock(ssm, "latchkey", "locktest", holder="first"),
          pytest.raises(click.ClickException, match=r"another deploy of this stage is running.*first"),
          DeployLock(ssm, "latchkey", "locktest", holder="second")):
        pass
    with DeployLock(ssm, "latchkey", "locktest", holder="third"):  # released: the next one may go
        pass
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/latchkey/locktest/deploy-lock")


@pytest.mark.slow
def test_default_deploy_refuses_a_stage_of_the_chalice_path(deployed, endpoint):
    project, result = deployed
    assert result.returncode == 0
    refused = make(project, "deploy", "dev", AWS_ENDPOINT_URL=endpoint)
    assert refused.returncode != 0
    assert "was deployed with DEPLOY_PATH=chalice" in refused.stderr


# -- the chalice path, with its window closed -----------------------------------------------


def test_chalice_cli_publishes_the_gateway_responses_in_the_definition():
    """`chalice deploy` sends this document in one PutRestApi: the 404s are there from the start."""
    from chalice.deploy.swagger import SwaggerGenerator

    from app import app
    from infra.gateway import swagger_gateway_responses
    from scripts import chalice_cli

    chalice_cli.install()
    chalice_cli.install()  # once only
    handler = {"api_handler_arn": "arn:aws:lambda:us-east-1:123456789012:function:latchkey-dev"}
    document = SwaggerGenerator("us-east-1", handler).generate_swagger(app)
    assert document["x-amazon-apigateway-gateway-responses"] == swagger_gateway_responses()
    assert document["x-amazon-apigateway-gateway-responses"]["ACCESS_DENIED"]["statusCode"] == "404"


def test_authorizer_credentials_reach_the_definition(monkeypatch):
    from chalicelib.api.gateway import TOKEN_AUTHORIZER
    from chalicelib.functions import AUTHORIZER_CREDENTIALS_VARIABLE

    role = "arn:aws:iam::123456789012:role/latchkey-dev-data-AuthorizerInvokeRole"
    monkeypatch.setenv(AUTHORIZER_CREDENTIALS_VARIABLE, role)
    assert TOKEN_AUTHORIZER.to_swagger()["x-amazon-apigateway-authorizer"]["authorizerCredentials"] == role
    monkeypatch.delenv(AUTHORIZER_CREDENTIALS_VARIABLE)
    assert "authorizerCredentials" not in TOKEN_AUTHORIZER.to_swagger()["x-amazon-apigateway-authorizer"]


@pytest.mark.slow
def test_chalice_path_creates_the_authorizer_invoke_role_before_the_api(deployed, boto):
    _, result = deployed
    assert result.returncode == 0
    stack = boto("cloudformation").describe_stacks(StackName="latchkey-dev-data")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    role_name = outputs["AuthorizerInvokeRole"].rsplit("/", 1)[1]
    iam = boto("iam")
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    (policy,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
    if isinstance(document, str):  # moto keeps CloudFormation's policies as text
        document = __import__("ast").literal_eval(document)  # moto keeps a Python repr
    (statement,) = document["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"].endswith(f":function:latchkey-dev-{TOKEN_AUTHORIZER_NAME}")
