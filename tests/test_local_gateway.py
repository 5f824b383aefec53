"""Local parity: the local gateway answers as API Gateway does once deployed."""
import json

from chalicelib.access import Principal
from chalicelib.refusals import GATEWAY_RESPONSES
from chalicelib.wiring import Root


def gateway_body(response_type):
    status, body, _ = GATEWAY_RESPONSES[response_type]
    return status, body


def test_unknown_route_answers_json_404(api, aws):
    assert api.get("/nowhere") == gateway_body("MISSING_AUTHENTICATION_TOKEN")
    assert api.get("/api/v3/nowhere", "lka_x", headers={"Authorization": "x"}) == gateway_body(
        "MISSING_AUTHENTICATION_TOKEN"
    )


def test_deny_is_the_access_denied_gateway_response(api, aws):
    assert api.get("/api/v3/user", "lka_garbage") == gateway_body("ACCESS_DENIED") == (404, {"error": "not found"})


def test_missing_token_is_the_unauthorized_gateway_response(api, aws):
    assert api.get("/api/v3/user") == gateway_body("UNAUTHORIZED")


def test_authorizer_failure_is_503_with_retry_after(client, make, monkeypatch):
    token = make.user().token()

    def down(self, digest):
        from chalicelib.errors import Unavailable

        raise Unavailable()

    monkeypatch.setattr("chalicelib.store.tokens.TokenStore.find", down)
    response = client.http.get("/api/v3/user", headers={"api-token": token})
    assert response.status_code == 503
    assert json.loads(response.body) == {"error": "service temporarily unavailable, retry later"}
    assert response.headers["Retry-After"] == "1"


def test_authorizer_answer_without_policy_is_a_configuration_error(client, monkeypatch):
    monkeypatch.setattr("chalicelib.authorizer.handle", lambda event: {"principalId": "x"})
    response = client.http.get("/api/v3/user", headers={"api-token": "lka_x"})
    assert (response.status_code, json.loads(response.body)) == gateway_body("AUTHORIZER_CONFIGURATION_ERROR")


def test_authorizer_gets_a_request_event_and_route_gets_strings(client, monkeypatch, make):
    seen = {}
    from_context = Principal.from_context.__func__

    def spy(cls, context):
        seen["context"] = dict(context)
        return from_context(cls, context)

    monkeypatch.setattr(Principal, "from_context", classmethod(spy))

    def fake_handle(event):
        seen["event"] = event
        return {
            "principalId": "p",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [event["methodArn"]]}]},
            "context": {"kind": "account", "tokenId": 1, "userId": make.user().user_id},
        }

    monkeypatch.setattr("chalicelib.authorizer.handle", fake_handle)
    response = client.http.get("/api/v3/user?x=1", headers={"API-Token": "anything", "User-Agent": "t"})
    assert response.status_code == 200
    event = seen["event"]
    assert event["type"] == "REQUEST"
    assert event["path"] == "/api/v3/user" and event["resource"] == "/api/v3/user"
    assert event["queryStringParameters"] == {"x": "1"}
    assert {k.lower() for k in event["headers"]} >= {"api-token", "user-agent"}
    assert event["methodArn"].endswith("/GET/api/v3/user")
    assert all(isinstance(value, str) for value in seen["context"].values())


def test_repeated_header_reaches_the_authorizer_with_every_value(client, make):
    """chalice.test.Client and `make run` keep repeated headers
    (multiValueHeaders), as API Gateway does: two tokens in one header are 400."""
    from chalicelib.api.local_gateway import MultiHeaders

    bob, alice = make.user("bob@example.com").token(), make.user("alice@example.com").token()
    for pair in ((bob, alice), (alice, bob)):
        headers = MultiHeaders([("api-token", pair[0]), ("api-token", pair[1])])
        response = client.http.get("/api/v3/user", headers=headers)
        assert response.status_code == 400, response.body
        assert "two different tokens" in json.loads(response.body)["error"]
    same = client.http.get("/api/v3/user", headers=MultiHeaders([("api-token", bob), ("api-token", bob)]))
    assert same.status_code == 200


def test_request_event_carries_multi_value_headers():
    from chalicelib.api.local_gateway import request_event

    lambda_event = {"requestContext": {"httpMethod": "GET", "path": "/x"}, "headers": {"api-token": "b"},
                    "multiValueHeaders": {"api-token": ["a", "b"]}}
    sent = request_event("arn", lambda_event)
    assert sent["multiValueHeaders"] == {"api-token": ["a", "b"]} and sent["headers"] == {"api-token": "b"}


# -- issue 12: a newcomer's mistakes get a hint, never their value back ------

def test_newcomer_mistakes_are_404_not_found_with_a_hint(api, make):
    from chalicelib import authorizer

    token = make.user().token()
    cases = [
        ({"api-token": f'"{token}"'}, authorizer.HINT_QUOTES),
        ({"api-token": f"'{token}'"}, authorizer.HINT_QUOTES),
        ({"api-token": f"Bearer {token}"}, authorizer.HINT_SCHEME),
        ({"project-token": f"bearer {token}"}, authorizer.HINT_SCHEME),
        ({"api-token": "lka_..."}, authorizer.HINT_PLACEHOLDER),
        ({"project-token": "lkp_..."}, authorizer.HINT_PLACEHOLDER),
        ({"Authorization": f"Bearer {token}"}, authorizer.HINT_AUTHORIZATION),
        ({"Authorization": token}, authorizer.HINT_AUTHORIZATION),
    ]
    for headers, hint in cases:
        response = api.client.http.get("/api/v3/user", headers=headers)
        assert response.status_code == 404, headers
        assert json.loads(response.body) == {"error": "not found", "hint": hint}, headers
        assert token not in response.body.decode() and token[4:12] not in response.body.decode()


def test_other_malformed_tokens_stay_exactly_not_found(api, aws):
    for raw in ("garbage", "lka_" + "A" * 33, "lka_nope"):
        response = api.client.http.get("/api/v3/user", headers={"api-token": raw})
        assert (response.status_code, response.body) == (404, b'{"error":"not found"}')
    # no token and no latchkey token in Authorization: still 401
    assert api.get("/api/v3/user", headers={"Authorization": "Basic dXNlcjpwYXNz"})[0] == 401


def test_deployed_template_renders_like_the_local_gateway():
    """The ACCESS_DENIED template API Gateway gets, rendered with an
    authorizer context as API Gateway substitutes it, is the local body."""
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.refusals import render_template
    from infra.gateway import swagger_gateway_responses

    template = swagger_gateway_responses()["ACCESS_DENIED"]["responseTemplates"]["application/json"]
    quoted = {"error": "not found", "hint": "remove the quotes around the token"}
    for raw, body in (("garbage", {"error": "not found"}), ('"x"', quoted)):
        decision = TokenAuthorizer(Root(token_store=object()))({"methodArn": "arn", "headers": {"api-token": raw}})
        assert json.loads(render_template(template, decision["context"])) == body
