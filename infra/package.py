"""`make package`: one SAM template for the whole stage, and its code.

`chalice package --merge-template` writes the functions, their roles and the
REST API; merged into it are the fragments of `template_fragments` (tables
and bucket, the authorizer's permission and gateway responses, operations,
a custom domain, the console's sign-in). The deployment package is then
slimmed of what the Lambda runtime provides. The template is deployed by
`infra.deploy_stack` (`make deploy`) or `aws cloudformation deploy`.
"""
import json
import os
from pathlib import Path

from infra.stage import DeployError, Stage, say


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
    from chalicelib.functions import TOKEN_AUTHORIZER_LOGICAL_ID
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


def console_identity_fragment(stage: Stage) -> dict:
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
    from chalicelib.functions import AUTHORIZER_URI_VARIABLE, TOKEN_AUTHORIZER_LOGICAL_ID
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
        raise DeployError(f"chalice package failed:\n{result.stdout}{result.stderr}")
    template_path = package_dir / "sam.json"
    report_size(slim_package(package_dir / "deployment.zip"))
    template = json.loads(template_path.read_text())
    if TOKEN_AUTHORIZER_LOGICAL_ID not in template.get("Resources", {}):
        raise DeployError(
            f"chalice package named the authorizer function differently than {TOKEN_AUTHORIZER_LOGICAL_ID}: "
            "the authorizerUri would not resolve"
        )
    return template_path
