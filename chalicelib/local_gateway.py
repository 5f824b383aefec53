"""Local parity for the REQUEST authorizer: the one place that closes
Chalice's local gaps.

`chalice local` and `chalice.test.Client` build a `chalice.local.LocalGateway`,
which runs only built-in TOKEN authorizers (reading `Authorization`) and
admits every request on a route with any other authorizer (aws/chalice#617,
#1675). `install()` replaces the gateway's authorizer class, at the seam
Chalice reads when each gateway is built, with one that, like API Gateway:

- sends the authorizer Lambda a REQUEST event (all headers, path, query);
- answers its Deny, its `Unauthorized` and its failures with the gateway
  responses of `chalicelib.gateway.GATEWAY_RESPONSES`;
- hands the route the authorizer context, every value a string;
- answers a path that no route matches with the same JSON as deployed.

Nothing here runs on Lambda: `app.py` installs it only outside Lambda.
"""
import json
import logging

from chalice import local

from chalicelib.gateway import GATEWAY_RESPONSES, RequestAuthorizer

log = logging.getLogger(__name__)


class GatewayResponse(local.LocalGatewayException):
    """One of API Gateway's own answers."""

    def __init__(self, response_type: str, request_id: str):
        status, body, headers = GATEWAY_RESPONSES[response_type]
        super().__init__(
            {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
             "x-amzn-ErrorType": response_type, **headers},
            json.dumps(body, separators=(",", ":")).encode(),
        )
        self.CODE = status


def request_event(method_arn: str, lambda_event: dict) -> dict:
    """The REQUEST authorizer event API Gateway would send for `lambda_event`."""
    context = lambda_event.get("requestContext", {})
    headers = lambda_event.get("headers") or {}
    multi_query = lambda_event.get("multiValueQueryStringParameters")
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": context.get("resourcePath"),
        "path": context.get("path") or lambda_event.get("path"),
        "httpMethod": context.get("httpMethod"),
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": lambda_event.get("pathParameters"),
        "stageVariables": lambda_event.get("stageVariables"),
        "requestContext": context,
    }


class LocalRequestAuthorizer(local.LocalGatewayAuthorizer):
    def authorize(self, raw_path, lambda_event, lambda_context):
        route = self._route_for_event(lambda_event)
        authorizer = route.authorizer if route else None
        if not isinstance(authorizer, RequestAuthorizer):
            return super().authorize(raw_path, lambda_event, lambda_context)
        function = self._function(authorizer.name)
        method = lambda_event["requestContext"]["httpMethod"]
        arn = self._arn_builder.build_arn(method, raw_path)
        request_id = lambda_context.aws_request_id
        # API Gateway gives every request an id, in the authorizer's event and the route's.
        lambda_event["requestContext"].setdefault("requestId", request_id)
        try:
            result = function(request_event(arn, lambda_event), lambda_context)
        except Exception as error:  # API Gateway maps exactly this message to 401
            if str(error) == "Unauthorized":
                raise GatewayResponse("UNAUTHORIZED", request_id) from None
            log.exception("authorizer failed (request %s)", request_id)
            raise GatewayResponse("AUTHORIZER_FAILURE", request_id) from None
        if not isinstance(result, dict) or "policyDocument" not in result:
            raise GatewayResponse("AUTHORIZER_CONFIGURATION_ERROR", request_id)
        if not self._check_can_invoke_view_function(arn, result):
            raise GatewayResponse("ACCESS_DENIED", request_id)
        context = {key: str(value) for key, value in (result.get("context") or {}).items()}
        context["principalId"] = str(result.get("principalId", ""))
        lambda_event["requestContext"]["authorizer"] = context
        return lambda_event, lambda_context

    def _function(self, name: str):
        for function in self._app_object.pure_lambda_functions:
            if function.name == name:
                return function
        raise RuntimeError(f"no @app.lambda_function named {name!r} for the authorizer")


def _answer_unknown_routes_like_the_gateway(handle_request):
    """Wrap `LocalGateway.handle_request`: Chalice answers a path no route
    matches with a ForbiddenError typed `UnauthorizedException`; the deployed
    gateway answers it with our MISSING_AUTHENTICATION_TOKEN response."""

    def wrapped(self, method, path, headers, body):
        try:
            return handle_request(self, method, path, headers, body)
        except local.ForbiddenError as error:
            if error.headers.get("x-amzn-ErrorType") != "UnauthorizedException":
                raise
            raise GatewayResponse("MISSING_AUTHENTICATION_TOKEN", error.headers.get("x-amzn-RequestId", "")) from None

    wrapped.latchkey = True  # type: ignore[attr-defined]  # marks the wrapper as installed
    return wrapped


def install() -> None:
    """Make every LocalGateway answer as the deployed API Gateway does.

    Chalice's test client imports the `LocalGateway` class itself, so the
    unknown-route answer is changed on the class; the authorizer is replaced
    at the module attribute each gateway reads when it is built.
    """
    local.LocalGatewayAuthorizer = LocalRequestAuthorizer  # type: ignore[misc]  # the seam, on purpose
    if not getattr(local.LocalGateway.handle_request, "latchkey", False):
        local.LocalGateway.handle_request = (  # type: ignore[method-assign]  # the seam, on purpose
            _answer_unknown_routes_like_the_gateway(local.LocalGateway.handle_request)
        )
