"""Latchkey's Lambda entry points. Wiring only: the API routes, their
authorizer, and the authorizer's own Lambda function.

Both Lambda functions are packaged from this module, so it imports nothing
heavy: PynamoDB is loaded by the first request that needs it.
"""
import os

from chalice import Chalice, Rate

from chalicelib import authorizer, telemetry, wiring
from chalicelib.functions import SWEEPER_NAME, TOKEN_AUTHORIZER_NAME

# The authorizer's own Lambda (LATCHKEY_FUNCTION=authorizer, set for it in
# .chalice/config.json) serves no route: it skips importing the routes, so
# its cold start pays only for the authorizer.
AUTHORIZER_ONLY = os.environ.get("LATCHKEY_FUNCTION") == "authorizer"

# Logging is chalicelib.telemetry's: JSON lines at LOG_LEVEL on Lambda.
app = Chalice(app_name="latchkey", configure_logs=False)
if telemetry.in_lambda():
    telemetry.configure(function="authorizer" if AUTHORIZER_ONLY else "api")
if not AUTHORIZER_ONLY:
    from chalicelib.api import console, docs, headers, http, keyless, leaks, v2, v3, v3_commits

    app.register_blueprint(v3.api, url_prefix="/api/v3")
    app.register_blueprint(v3_commits.api, url_prefix="/api/v3")
    app.register_blueprint(keyless.api, url_prefix="/api/v3")
    app.register_blueprint(leaks.api, url_prefix="/api/v3")
    app.register_blueprint(v2.api, url_prefix="/2.0")
    app.register_blueprint(docs.api)
    app.register_blueprint(console.api)
    app.register_middleware(http.json_errors, "http")
    app.register_middleware(telemetry.http_middleware, "http")
    app.register_middleware(headers.security_headers, "http")
# Bodies labelled application/octet-stream are JSON too (http.BODY_CONTENT_TYPES);
# as a binary type it would mix binary and text content types on one route,
# which `chalice deploy` refuses. As text, API Gateway passes it unencoded.
app.api.binary_types.remove("application/octet-stream")


@app.lambda_function(name=TOKEN_AUTHORIZER_NAME)
def token_authorizer(event, context):
    return telemetry.authorizer_invocation(authorizer.handle, event, context)


@app.schedule(Rate(1, unit=Rate.DAYS), name=SWEEPER_NAME)
def sweeper(event):
    # Built (and imported) by the root on first use: neither the authorizer
    # nor the API pays for it.
    return {"summary": wiring.root().sweeper.sweep().summary()}


if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
    # `chalice local`, `make run` and chalice.test.Client: run the authorizer
    # above on every protected request, as API Gateway does.
    from chalicelib.api import local_gateway

    local_gateway.install()
