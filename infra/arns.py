"""ARNs in the two forms the deploy paths need.

`chalice deploy` sends IAM policies to IAM as they are, so they need
concrete ARNs (partition, region and account known). `chalice package`
writes a template for an account not known yet, so there the ARNs are
`Fn::Sub` expressions CloudFormation resolves at deploy time.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ConcreteArns:
    """ARNs of one account and region."""

    region: str
    account: str
    partition: str = "aws"

    def dynamodb_table(self, table: str, index: str | None = None) -> str:
        arn = f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{table}"
        return f"{arn}/index/{index}" if index else arn

    def s3_bucket(self, bucket: str, key_pattern: str | None = None) -> str:
        arn = f"arn:{self.partition}:s3:::{bucket}"
        return f"{arn}/{key_pattern}" if key_pattern is not None else arn

    def lambda_function(self, name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{name}"

    def authorizer_uri(self, function_name: str) -> str:
        return (
            f"arn:{self.partition}:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
            f"{self.lambda_function(function_name)}/invocations"
        )

    def execute_api(self, rest_api_id: str, path: str) -> str:
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{rest_api_id}/{path}"


class TemplateArns:
    """ARNs resolved by CloudFormation in the stack's own account and region."""

    def dynamodb_table(self, table: str, index: str | None = None) -> dict:
        suffix = f"/index/{index}" if index else ""
        return {
            "Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}{suffix}"
        }

    def s3_bucket(self, bucket: str, key_pattern: str | None = None) -> dict:
        suffix = f"/{key_pattern}" if key_pattern is not None else ""
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}{suffix}"}
