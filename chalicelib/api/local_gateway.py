"""Local parity for the REQUEST authorizer: the one place that closes
Chalice's local gaps.

`chalice local` and `chalice.test.Client` build a `chalice.local.LocalGateway`,
which runs only built-in TOKEN authorizers (reading `Authorization`) and
admits every request on a route with any other authorizer (aws/chalice#617,
#1675). `install()` replaces the gateway's authorizer class, at the seam
Chalice reads when each gateway is built, with one that, like API Gateway:

- sends the authorizer Lambda a REQUEST event (all headers, path, query);
- answers its Deny, its `Unauthorized` and its failures with the gateway
  responses of `chalicelib.refusals` (`GATEWAY_RESPONSES` deployed);
- hands the route the authorizer context, every value a string;
- hands the authorizer and the route every value of a repeated header
  (`multiValueHeaders`; `headers` holds the last one), as API Gateway does;
- answers a path that no route matches with the same JSON as deployed;
- and, in `make run`'s HTTP server (`LocalRequestHandler`), answers a
  malformed request (bad or oversized Content-Length, a body shorter than
  announced, oversized headers) at once with a JSON 4xx, as deployed.

Nothing here runs on Lambda: `app.py` installs it only outside Lambda.
"""
import functools
import json
import logging

from chalice import local

from chalicelib import refusals
from chalicelib.api.gateway import RequestAuthorizer
from chalicelib.refusals import GATEWAY_TEMPLATES, Refusal, render_template
from chalicelib.settings import get_settings

log = logging.getLogger(__name__)


class GatewayResponse(local.LocalGatewayException):
    """One of API Gateway's own answers."""

    def __init__(self, refusal: Refusal, request_id: str, context: dict | None = None):
        template = GATEWAY_TEMPLATES.get(refusal.code)
        super().__init__(
            {"Content-Type": "application/json", "x-amzn-RequestId": request_id,
             "x-amzn-ErrorType": refusal.code, **refusal.headers},
            (render_template(template, context or {}) if template else json.dumps(refusal.body, separators=(",", ":")))
            .encode(),
        )
        self.CODE = refusal.status


def request_event(method_arn: str, lambda_event: dict) -> dict:
    """The REQUEST authorizer event API Gateway would send for `lambda_event`."""
    context = lambda_event.get("requestContext", {})
    headers = lambda_event.get("headers") or {}
    multi_headers = lambda_event.get("multiValueHeaders") or {name: [value] for name, value in headers.items()}
    multi_query = lambda_event.get("multiValueQueryStringParameters")
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": context.get("resourcePath"),
        "path": context.get("path") or lambda_event.get("path"),
        "httpMethod": context.get("httpMethod"),
        "headers": dict(headers),
        "multiValueHeaders": {name: list(values) for name, values in multi_headers.items()},
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
            if str(error) == refusals.UNAUTHORIZED_MESSAGE:
                raise GatewayResponse(refusals.UNAUTHORIZED, request_id) from None
            log.exception("authorizer failed (request %s)", request_id)
            raise GatewayResponse(refusals.AUTHORIZER_FAILURE, request_id) from None
        if not isinstance(result, dict) or "policyDocument" not in result:
            raise GatewayResponse(refusals.AUTHORIZER_CONFIGURATION_ERROR, request_id)
        if not self._check_can_invoke_view_function(arn, result):
            raise GatewayResponse(refusals.ACCESS_DENIED, request_id, result.get("context") or {})
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
            request_id = error.headers.get("x-amzn-RequestId", "")
            raise GatewayResponse(refusals.MISSING_AUTHENTICATION_TOKEN, request_id) from None

    wrapped.latchkey = True  # type: ignore[attr-defined]  # marks the wrapper as installed
    return wrapped


class MultiHeaders(dict):
    """Request headers as Chalice's local gateway takes them (a dict: name ->
    the last value, as API Gateway's `headers`), that also keep every value
    of a repeated header in `multi` (API Gateway's `multiValueHeaders`)."""

    def __init__(self, pairs=()):
        pairs = [(str(name), str(value)) for name, value in pairs]
        super().__init__(pairs)  # the last value wins, as in `headers` deployed
        self.multi: dict[str, list[str]] = {}
        for name, value in pairs:
            self.multi.setdefault(name.lower(), []).append(value)


def _with_multi_value_headers(generate):
    """Wrap `LocalGateway._generate_lambda_event`: add `multiValueHeaders`."""

    def wrapped(self, method, path, headers, body):
        event = generate(self, method, path, headers, body)
        multi = getattr(headers, "multi", None)
        if multi is None:
            multi = {str(name).lower(): [value] for name, value in headers.items()}
        event["multiValueHeaders"] = {name: list(values) for name, values in multi.items()}
        return event

    wrapped.latchkey = True  # type: ignore[attr-defined]  # marks the wrapper as installed
    return wrapped


# API Gateway's own limits on what reaches the API (REST API quotas): the
# request line and headers together at most 10 KB.
MAX_HEADER_BYTES = 10 * 1024
# How long the local server waits for a body that is slower than announced.
BODY_TIMEOUT_SECONDS = 2.0


class LocalRequestHandler(local.ChaliceRequestHandler):
    """`make run`'s HTTP handler: Chalice's, plus the answers API Gateway
    gives to malformed requests (JSON, at once) instead of a hang, a dropped
    connection, a MemoryError or an HTML page, and repeated headers kept."""

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        """The access log line (it holds the request line: a token pasted into
        a path must not reach the log), cleaned like every logged request field."""
        from chalicelib.request_meta import clean_text

        super().log_message("%s", clean_text(format % args, 2048) or "")

    def send_error(self, code, message=None, explain=None):
        """Python's own rejections (431 for a header line over 64 KB, 400 for
        a bad request line...) as JSON instead of HTML."""
        if code == 431:
            message = "request headers: too large or too many"
        self._refuse(code, message or "bad request")

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps({"error": message}, separators=(",", ":")).encode()
        self.close_connection = True  # the rest of the stream cannot be trusted
        try:
            self.send_response(status, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client went away: nothing to answer
            pass

    def _generic_handle(self) -> None:
        refusal = self._check_request()
        if refusal is not None:
            self._refuse(*refusal)
            return
        super()._generic_handle()

    # Chalice binds these to its own `_generic_handle`: rebind them to this one.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _check_request(self) -> tuple[int, str] | None:
        size = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if size > MAX_HEADER_BYTES:
            return 431, f"request headers: larger than {MAX_HEADER_BYTES} bytes"
        raw = self.headers.get_all("content-length") or []
        if len(set(raw)) > 1:
            return 400, "Content-Length: sent more than once with different values"
        if raw and not (raw[0].strip().isascii() and raw[0].strip().isdigit()):
            return 400, "Content-Length: not a number"
        length = int(raw[0]) if raw else 0
        limit = get_settings().max_upload_bytes
        if length > limit:
            return 413, f"body: larger than {limit} bytes"
        self._body = b""
        if length:
            try:
                self.connection.settimeout(BODY_TIMEOUT_SECONDS)
                self._body = self.rfile.read(length)
            except OSError:  # a timeout: the body is shorter than announced
                return 400, "body: shorter than its Content-Length"
            finally:
                try:
                    self.connection.settimeout(self.timeout)
                except OSError:
                    pass
            if len(self._body) < length:
                return 400, "body: shorter than its Content-Length"
        return None

    def _parse_payload(self):
        """The headers with every value kept, and the body read by `_check_request`."""
        return MultiHeaders(self.headers.items()), (self._body or None)


def serve_with_parity(server, app, config) -> None:
    """Make a `LocalDevServer` (from `chalice.local.create_local_server`)
    handle its requests with `LocalRequestHandler`."""
    server.server.RequestHandlerClass = functools.partial(LocalRequestHandler, app_object=app, config=config)


def install() -> None:
    """Make every LocalGateway answer as the deployed API Gateway does.

    Chalice's test client imports the `LocalGateway` class itself, so the
    unknown-route answer is changed on the class; the authorizer is replaced
    at the module attribute each gateway reads when it is built.
    """
    local.LocalGatewayAuthorizer = LocalRequestAuthorizer  # type: ignore[misc]  # the seam, on purpose
    if not getattr(local.LocalGateway._generate_lambda_event, "latchkey", False):
        local.LocalGateway._generate_lambda_event = (  # type: ignore[method-assign]  # the seam, on purpose
            _with_multi_value_headers(local.LocalGateway._generate_lambda_event)
        )
    if not getattr(local.LocalGateway.handle_request, "latchkey", False):
        local.LocalGateway.handle_request = (  # type: ignore[method-assign]  # the seam, on purpose
            _answer_unknown_routes_like_the_gateway(local.LocalGateway.handle_request)
        )
