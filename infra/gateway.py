"""API Gateway's own answers and the authorizer's wiring, from
`chalicelib.refusals` (the same definitions the local gateway answers with).
"""
import json

from chalicelib.refusals import GATEWAY_DEFAULT_TEMPLATES, GATEWAY_RESPONSES, GATEWAY_TEMPLATES
from infra.policies import assumed_by

JSON = "application/json"


def _body(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))


def _responses() -> dict[str, dict]:
    """Every gateway response: the fixed answers, then the defaults (status kept)."""
    responses = {
        response_type: {
            "statusCode": str(status),
            "responseParameters": {
                f"gatewayresponse.header.{name}": f"'{value}'" for name, value in sorted(headers.items())
            },
            "responseTemplates": {JSON: GATEWAY_TEMPLATES.get(response_type) or _body(body)},
        }
        for response_type, (status, body, headers) in GATEWAY_RESPONSES.items()
    }
    for response_type, template in GATEWAY_DEFAULT_TEMPLATES.items():
        responses[response_type] = {"responseParameters": {}, "responseTemplates": {JSON: template}}
    return dict(sorted(responses.items()))


def swagger_gateway_responses() -> dict:
    """`x-amazon-apigateway-gateway-responses` for the API definition (package path)."""
    return _responses()


def put_gateway_response_calls(rest_api_id: str) -> list[dict]:
    """Keyword arguments of `apigateway.put_gateway_response`, one per response (deploy path)."""
    return [
        {"restApiId": rest_api_id, "responseType": response_type, **response}
        for response_type, response in _responses().items()
    ]


def authorizer_permission(function_logical_id: str, rest_api_logical_id: str) -> dict:
    """Let this stage's REST API (and only it) invoke the authorizer function."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_logical_id, "Arn"]},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                f"${{{rest_api_logical_id}}}/authorizers/*"
            },
        },
    }


def authorizer_invoke_role(function_name: str) -> dict:
    """A role API Gateway assumes to invoke the authorizer (`authorizerCredentials`):
    it exists before the REST API does, so `chalice deploy`'s API can call its
    authorizer from its first moment. Only that one function."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": assumed_by("apigateway.amazonaws.com"),
            "Policies": [{
                "PolicyName": "invoke-token-authorizer",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                                                f"function:{function_name}"},
                    }],
                },
            }],
        },
    }
