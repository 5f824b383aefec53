"""The names app.py's Lambda functions are known by, to the deploy tooling,
`infra/` and the API definition.

Plain constants: no Chalice, no settings, so `infra/`, `scripts/` and
`app.py` import them at no cost.
"""

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
