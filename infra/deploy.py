"""What both deploy paths share: the AWS session of a stage's deploy, and
the lock that lets one deploy of a stage run at a time.

The paths (`make deploy DEPLOY_PATH=...`, docs/deployment.md):
- `stack` (the default), `infra.deploy_stack`: the template of
  `infra.package`, deployed as one CloudFormation change set;
- `chalice`, `infra.deploy_chalice`: `chalice deploy` and the steps around it.

Every AWS client honours `AWS_ENDPOINT_URL`, so both run against a local
moto server: the steps that server cannot perform are reported, not hidden.
"""
import json
import os

from infra.stage import DeployError, Stage, say


class Deployer:
    """AWS clients in the stage's region."""

    def __init__(self, stage: Stage):
        import boto3

        self.stage = stage
        self.session = boto3.Session()
        self.region = self.session.region_name or os.environ["AWS_DEFAULT_REGION"]

    def client(self, service: str):
        return self.session.client(service, region_name=self.region)

    def arns(self):
        from infra.arns import ConcreteArns

        identity = self.client("sts").get_caller_identity()
        partition = identity["Arn"].split(":")[1] if identity.get("Arn", "").startswith("arn:") else "aws"
        return ConcreteArns(region=self.region, account=identity["Account"], partition=partition)

    def refuse_certificate_of_another_region(self) -> None:
        """A regional custom domain needs a certificate of the stage's own region."""
        if not self.stage.domain:
            return
        from infra.domain import certificate_region

        region = certificate_region(self.stage.domain[1])
        if region != self.region:
            raise DeployError(
                f"CERTIFICATE_ARN is in {region}, the stage in {self.region}: "
                "a regional custom domain needs a certificate of its own region")

    def lock(self) -> "DeployLock":
        return DeployLock(self.client("ssm"), self.stage.app, self.stage.name)


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
            raise DeployError(
                f"another deploy of this stage is running ({current}); wait for it. If it died, remove the lock: "
                f"python scripts/deploy.py unlock --stage <stage> (SSM parameter {self.name})"
            ) from None
        say("lock", f"holding {self.name}")
        return self

    def __exit__(self, *exc_info):
        self.release()
        return False

    def release(self) -> None:
        try:
            self.ssm.delete_parameter(Name=self.name)
        except self.ssm.exceptions.ParameterNotFound:
            pass
        say("lock", f"released {self.name}")
