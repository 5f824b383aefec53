"""The names of a stage's AWS resources, derived from the stage in one place.

`stage_names("prod")` is what `.chalice/config.json`'s prod stage says (a
test holds them equal), what `make deploy` gives a new stage, what the
settings fall back to, and what the tests and the bench use. Chalice-free
and settings-free: `chalicelib.settings`, `infra/`, `scripts/`, `bench/` and
`tests/conftest.py` import it before anything reads the environment.
"""
from dataclasses import dataclass

APP_NAME = "latchkey"
DEFAULT_STAGE = "dev"


@dataclass(frozen=True)
class StageNames:
    """One stage's names. Functions and stacks are named `<app>-<stage>...`
    (as `chalice deploy` names functions); tables and the bucket
    `<prefix>-...`, where the prefix (LATCHKEY_RESOURCE_PREFIX) is
    `<app>-<stage>` unless a stage's config names another."""

    app: str
    stage: str
    prefix: str
    tokens_table: str
    directory_table: str
    uploads_table: str
    uploads_bucket: str
    audit_table: str

    def resource_variables(self) -> dict[str, str]:
        """The environment variables naming the tables and the bucket."""
        return {
            "TOKENS_TABLE": self.tokens_table,
            "DIRECTORY_TABLE": self.directory_table,
            "UPLOADS_TABLE": self.uploads_table,
            "UPLOADS_BUCKET": self.uploads_bucket,
            "AUDIT_TABLE": self.audit_table,
        }

    def stage_variables(self) -> dict[str, str]:
        """The stage's `environment_variables` in `.chalice/config.json`."""
        return {"LATCHKEY_STAGE": self.stage, "LATCHKEY_RESOURCE_PREFIX": self.prefix, **self.resource_variables()}

    def qualified(self, name: str) -> str:
        """`<app>-<stage>-<name>`: a Chalice function of the stage (its name in
        config.json's lambda_functions), or another resource of the stage's own."""
        return f"{self.app}-{self.stage}-{name}"

    @property
    def api_function(self) -> str:
        """The API handler's function (Chalice names it after app and stage only)."""
        return f"{self.app}-{self.stage}"

    @property
    def rest_api(self) -> str:
        """The REST API's name (its access logs, web ACL and alarms are named after it)."""
        return f"{self.app}-{self.stage}"

    @property
    def stack(self) -> str:
        """The stage's one CloudFormation stack (`make deploy`, DEPLOY_PATH=stack)."""
        return f"{self.app}-{self.stage}"

    @property
    def data_stack(self) -> str:
        """The tables-and-bucket stack of DEPLOY_PATH=chalice."""
        return self.qualified("data")

    def artifacts_bucket(self, account: str, region: str) -> str:
        """Where `make deploy` uploads the code and template it deploys."""
        return self.qualified(f"artifacts-{account}-{region}")


def stage_names(stage: str = DEFAULT_STAGE, app: str = APP_NAME, prefix: str | None = None) -> StageNames:
    """Every resource name of `stage` (tables and bucket under `prefix`,
    by default `<app>-<stage>`)."""
    prefix = f"{app}-{stage}" if prefix is None else prefix
    return StageNames(
        app=app,
        stage=stage,
        prefix=prefix,
        tokens_table=f"{prefix}-tokens",
        directory_table=f"{prefix}-directory",
        uploads_table=f"{prefix}-uploads",
        uploads_bucket=f"{prefix}-uploads",
        audit_table=f"{prefix}-audit",
    )
