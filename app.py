"""Latchkey's Lambda entry points. Wiring only: the API routes, their
authorizer, and the authorizer's own Lambda function.

Both Lambda functions are packaged from this module, so it imports nothing
heavy: PynamoDB is loaded by the first request that needs it.
"""
import os

from chalice import Chalice

from chalicelib import authorizer
from chalicelib.api import http, v3
from chalicelib.gateway import TOKEN_AUTHORIZER_NAME
from chalicelib.api import docs

app = Chalice(app_name="latchkey")
app.register_blueprint(v3.api, url_prefix="/api/v3")
app.register_blueprint(docs.api)
app.register_middleware(http.json_errors, "http")


@app.lambda_function(name=TOKEN_AUTHORIZER_NAME)
def token_authorizer(event, context):
    return authorizer.handle(event)


if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
    # `chalice local`, `make run` and chalice.test.Client: run the authorizer
    # above on every protected request, as API Gateway does.
    from chalicelib import local_gateway

    local_gateway.install()
