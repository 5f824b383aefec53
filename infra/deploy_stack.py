"""`make deploy` (DEPLOY_PATH=stack, the default): the whole stage as one
CloudFormation stack, from the template `make package` writes.

Under the stage's deploy lock (`infra.deploy.DeployLock`), and refusing a
stage the chalice path deployed (its data stack owns the tables), the steps
in order:

1. package     `infra.package`: the SAM template and the slimmed deployment package;
2. artifacts   the account's artifacts bucket, and the code in it by its SHA-256;
3. transform   SAM turned into plain CloudFormation here (`translate_sam`): the
               stack gets exactly the template that was checked;
4. change set  one change set (the template in the bucket too): created, shown,
               executed; CloudFormation rolls it back on failure;
5. URLs        the stack's outputs: the API URL and the clients' base URL.

Against a local endpoint the template is `infra.rehearsal`'s (moto deploys
no REST API), and it says what it left out.
"""
import json
import os
from pathlib import Path

from click import echo

from infra.deploy import Deployer
from infra.package import package_stage
from infra.rehearsal import rehearsal_template
from infra.stage import DeployError, Stage, is_local_endpoint, say


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


class StackDeployer(Deployer):
    """`make deploy`: package, upload, one change set, applied atomically."""

    CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")

    @property
    def stack(self) -> str:
        return self.stage.names.stack

    def artifacts_bucket(self, account: str) -> str:
        return self.stage.names.artifacts_bucket(account, self.region)

    def refuse_two_stack_stage(self) -> None:
        """A stage deployed by the chalice path keeps its tables in the data
        stack: a second stack would try to create the same tables."""
        cfn = self.client("cloudformation")
        try:
            stacks = cfn.describe_stacks(StackName=self.stage.stack_name)["Stacks"]
        except cfn.exceptions.ClientError:
            return
        if any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks):
            raise DeployError(
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

    def artifacts(self, sam_path: Path, bucket: str) -> dict:
        """Step 2: the code in the bucket; the SAM template, its functions pointing at it."""
        import hashlib

        code = (sam_path.parent / "deployment.zip").read_bytes()
        key = f"{self.stage.name}/code-{hashlib.sha256(code).hexdigest()}.zip"
        self.upload(bucket, key, code)
        sam = json.loads(sam_path.read_text())
        for resource in sam["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
        return sam

    def apply(self, template: dict, bucket: str) -> dict:
        """Step 4, one change set: created, shown, executed; CloudFormation rolls it back on failure."""
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
            raise DeployError(f"change set {name} failed: {reason}") from None
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
            raise DeployError(
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
    """Run the steps in order (a rehearsal on a local endpoint); print the URLs."""
    deployer = StackDeployer(prepared)
    if is_local_endpoint():
        say("endpoint", f"local rehearsal against {os.environ['AWS_ENDPOINT_URL']}")
    account = deployer.arns().account
    with deployer.lock():
        deployer.refuse_two_stack_stage()
        sam_path = package_stage(prepared, out_dir)
        bucket = deployer.artifacts_bucket(account)
        deployer.ensure_bucket(bucket)
        template = translate_sam(deployer.artifacts(sam_path, bucket), deployer.region)
        if is_local_endpoint():
            template, skipped = rehearsal_template(template)
            say("stack", f"SKIPPED (local endpoint): {len(skipped)} resources moto cannot deploy "
                         f"(the REST API and what needs it): {', '.join(skipped)}")
        outputs = deployer.apply(template, bucket)
    if is_local_endpoint():
        echo(f"REHEARSAL: stack {deployer.stack} from one change set (tables, bucket, roles, functions, "
             "log groups, alarms); the REST API and what needs it not run against this endpoint")
        return
    echo(f"API URL: {outputs.get('EndpointURL')}")
    if outputs.get("CustomDomainBaseUrl"):
        echo(f"Base URL for clients: {outputs['CustomDomainBaseUrl']}")
    else:
        echo(f"Base URL for clients: {str(outputs.get('EndpointURL', '')).rstrip('/')} "
             "(all but the Scala coverage reporter)")
