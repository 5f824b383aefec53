"""The token authorizer in the API definition.

Chalice's built-in authorizer is a TOKEN authorizer: one header, no path.
Latchkey's must see all four header spellings, so routes use
`RequestAuthorizer`, which Chalice renders into the API definition through
`to_swagger()`. The gateway's own answers are `chalicelib.refusals`'s; the
names the deploy tooling shares are `chalicelib.functions`'.
"""
import os

from chalice.app import Authorizer

from chalicelib.functions import (
    AUTHORIZER_CREDENTIALS_VARIABLE,
    AUTHORIZER_URI_VARIABLE,
    TOKEN_AUTHORIZER_LOGICAL_ID,
    TOKEN_AUTHORIZER_NAME,
)
from chalicelib.settings import get_settings


class RequestAuthorizer(Authorizer):
    """A Lambda REQUEST authorizer, by the name of its `@app.lambda_function`."""

    def __init__(self, name: str, ttl_seconds: int = 0, authorizer_uri=None):
        self.name = name
        self.scopes = []
        self.ttl_seconds = ttl_seconds
        self.authorizer_uri = authorizer_uri

    def with_scopes(self, scopes):
        raise NotImplementedError("a Lambda authorizer has no scopes")

    def to_swagger(self) -> dict:
        uri = self.authorizer_uri or os.environ.get(AUTHORIZER_URI_VARIABLE) or {
            # Resolved by CloudFormation in `chalice package` output; the
            # deploy tooling passes the concrete ARN for `chalice deploy`.
            "Fn::Sub": (
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                f"${{{TOKEN_AUTHORIZER_LOGICAL_ID}.Arn}}/invocations"
            )
        }
        authorizer = {
            "type": "request",
            "authorizerUri": uri,
            "authorizerResultTtlInSeconds": self.ttl_seconds,
        }
        credentials = os.environ.get(AUTHORIZER_CREDENTIALS_VARIABLE)
        if credentials:
            authorizer["authorizerCredentials"] = credentials
        if self.ttl_seconds:
            # A cached answer is keyed on identity sources, which API Gateway
            # then requires on every request: only the current header
            # spelling of account tokens can be listed.
            authorizer["identitySource"] = "method.request.header.api-token"
        return {
            "in": "header",
            "type": "apiKey",
            "name": "api-token",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": authorizer,
        }


TOKEN_AUTHORIZER = RequestAuthorizer(
    TOKEN_AUTHORIZER_NAME, ttl_seconds=get_settings().authorizer_ttl_seconds
)
