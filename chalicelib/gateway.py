"""What API Gateway itself does in front of the API: the token authorizer
and the gateway's own answers.

Chalice's built-in authorizer is a TOKEN authorizer: one header, no path.
Latchkey's must see all four header spellings, so routes use
`RequestAuthorizer`, which Chalice renders into the API definition through
`to_swagger()`. The same definitions drive the deployed stack (the deploy
tooling writes `GATEWAY_RESPONSES` into the REST API) and the local gateway
(`chalicelib.local_gateway` answers with them), so both answer alike.
"""
import os
import re

from chalice.app import Authorizer

from chalicelib.authorizer import HINT_KEY
from chalicelib.errors import NotFound, Unauthenticated, Unavailable
from chalicelib.settings import get_settings

TOKEN_AUTHORIZER_NAME = "token_authorizer"  # a Lambda function name, not a secret  # nosec B105
# The daily sweeper (issue 16), a scheduled Lambda function.
SWEEPER_NAME = "sweeper"
# `chalice package` names that function's CloudFormation resource this.
TOKEN_AUTHORIZER_LOGICAL_ID = "TokenAuthorizer"  # a resource name, not a secret  # nosec B105
# `make deploy` sets this for `chalice deploy`, which sends the API
# definition to API Gateway as it is (no CloudFormation to resolve Fn::Sub).
AUTHORIZER_URI_VARIABLE = "LATCHKEY_AUTHORIZER_URI"
# ...and this, the role API Gateway invokes the authorizer with (its ARN).
AUTHORIZER_CREDENTIALS_VARIABLE = "LATCHKEY_AUTHORIZER_CREDENTIALS"

# API Gateway response type -> (status, JSON body, extra headers).
GATEWAY_RESPONSES = {
    # The authorizer returned a Deny policy: unknown, revoked, malformed.
    "ACCESS_DENIED": (404, {"error": NotFound.default_message}, {}),
    # The authorizer raised Exception("Unauthorized"): no token was sent.
    "UNAUTHORIZED": (401, {"error": Unauthenticated.default_message}, {}),
    # The authorizer failed (DynamoDB unreachable or throttled).
    "AUTHORIZER_FAILURE": (503, {"error": Unavailable.default_message}, {"Retry-After": "1"}),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, {"error": "internal error"}, {}),
    # No route matches (API Gateway's default is a 403 "Missing
    # Authentication Token", which clients would misread as a token problem).
    "MISSING_AUTHENTICATION_TOKEN": (404, {"error": "no such route"}, {}),
}

# Answers whose body carries a value of the authorizer's context. API
# Gateway substitutes `$context.authorizer.<key>` in a gateway response's
# template (plain substitution, not VTL); the local gateway renders the
# same template with `render_template`. The authorizer sets `hintJson` on
# every Deny: "" (the body is exactly `{"error":"not found"}`, the
# contract), or `,"hint":"..."` for a recognisable newcomer's mistake (its
# text is ours, never the caller's value).
GATEWAY_TEMPLATES = {
    "ACCESS_DENIED": '{"error":"not found"$context.authorizer.' + HINT_KEY + "}",
}


def render_template(template: str, context: dict) -> str:
    """A gateway response template with the authorizer's context put in, as
    API Gateway renders it (a key it lacks becomes "")."""
    return re.sub(r"\$context\.authorizer\.([A-Za-z0-9_]+)", lambda m: str(context.get(m.group(1), "")), template)


# Every other answer API Gateway makes itself (throttling 429, a body over
# Lambda's 6 MB, a Lambda crash or timeout 502/504...) keeps its status but
# gets an `{"error": ...}` body: Codacy's clients look for that string.
# Deployed only (the local server has no such failures); a template, as
# API Gateway renders it.
GATEWAY_DEFAULT_TEMPLATES = {
    "DEFAULT_4XX": '{"error":$context.error.messageString}',
    "DEFAULT_5XX": '{"error":$context.error.messageString}',
}


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
