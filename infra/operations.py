"""What it takes to run a stage: logs kept for a while, access logs,
tracing, throttling, an optional per-address rate limit, and alarms.

Each function returns a fragment of the stage's template (`Parameters`,
`Conditions`, `Resources`, or properties merged into a resource Chalice
generates); `stage_template` puts them together for `infra/package.py`.
Another concern adds its own function and one line in `stage_template`
(or its own fragment in `infra/package.py`): nothing here needs to know about it.

Defaults come from the stage's settings (`chalicelib.settings`), and each is
a template parameter, so `aws cloudformation deploy --parameter-overrides`
can change one without regenerating the template. What to do when an
alarm fires: docs/operations.md.
"""
import json

from chalicelib.functions import TOKEN_AUTHORIZER_LOGICAL_ID
from chalicelib.settings import RETENTION_DAYS
from chalicelib.stage_names import stage_names
from infra.policies import assumed_by

API_LOGICAL_ID = "APIHandler"  # `chalice package`'s name for the API function
REST_API_LOGICAL_ID = "RestAPI"
SWEEPER_LOGICAL_ID = "Sweeper"  # the scheduled sweeper (issue 16)
FUNCTIONS = (API_LOGICAL_ID, TOKEN_AUTHORIZER_LOGICAL_ID, SWEEPER_LOGICAL_ID)

# Codacy's published limit for its API: 2,500 requests per 5 minutes per source address.
CODACY_RATE_PER_5_MINUTES = 2500

# API Gateway access log line: no request path, header or body (a token can
# only ever be there), the route template instead; the principal is
# `token:<id>` or `anonymous`.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "principalId": "$context.authorizer.principalId",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}


def parameters(settings) -> dict:
    return {
        "LogRetentionDays": {
            "Type": "Number",
            "Default": settings.log_retention_days,
            "AllowedValues": list(RETENTION_DAYS),
            "Description": "Days CloudWatch Logs keeps each function's logs and the API's access logs",
        },
        "ThrottleRateLimit": {
            "Type": "Number",
            "Default": settings.throttle_rate_limit,
            "MinValue": 1,
            "Description": "Stage throttling: steady requests per second for the whole API",
        },
        "ThrottleBurstLimit": {
            "Type": "Number",
            "Default": settings.throttle_burst_limit,
            "MinValue": 1,
            "Description": "Stage throttling: burst of requests above the steady rate",
        },
        "WafRateLimit": {
            "Type": "Number",
            "Default": settings.waf_rate_limit,
            "MinValue": 0,
            "Description": "Requests per source address per 5 minutes before AWS WAF blocks it "
            f"(0: no web ACL; Codacy's own limit is {CODACY_RATE_PER_5_MINUTES})",
        },
        "AlarmTopicArn": {
            "Type": "String",
            "Default": settings.alarm_topic_arn,
            "Description": "SNS topic the alarms notify (empty: alarms without notification)",
        },
    }


def conditions() -> dict:
    return {
        "HasWebAcl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "WafRateLimit"}, "0"]}]},
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
    }


def log_groups() -> dict:
    """Every function's log group, kept LogRetentionDays (Lambda would create
    them itself, kept for ever)."""
    return {
        f"{function}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{function}}}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        for function in FUNCTIONS
    }


def function_names(app: str, stage: str) -> dict[str, str]:
    """The names `chalice deploy` gives (the IAM policies' log groups name them)."""
    from chalicelib.functions import SWEEPER_NAME, TOKEN_AUTHORIZER_NAME

    names = stage_names(stage, app)
    return {API_LOGICAL_ID: names.api_function, TOKEN_AUTHORIZER_LOGICAL_ID: names.qualified(TOKEN_AUTHORIZER_NAME),
            SWEEPER_LOGICAL_ID: names.qualified(SWEEPER_NAME)}


def function_properties(app: str, stage: str, settings) -> dict:
    """Merged into the functions Chalice generates: their names, X-Ray active tracing."""
    tracing = {API_LOGICAL_ID: settings.api_tracing, TOKEN_AUTHORIZER_LOGICAL_ID: settings.authorizer_tracing,
               SWEEPER_LOGICAL_ID: False}
    names = function_names(app, stage)
    return {
        function: {"Properties": {"FunctionName": names[function], "Tracing": "Active" if on else "PassThrough"}}
        for function, on in tracing.items()
    }


def access_logs(app: str, stage: str) -> dict:
    """The access log group and the API Gateway account role that lets API
    Gateway write it (an account-wide, per-region setting)."""
    return {
        "ApiAccessLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/apigateway/{stage_names(stage, app).rest_api}/access",
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        },
        "ApiGatewayCloudWatchRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": assumed_by("apigateway.amazonaws.com"),
                "ManagedPolicyArns": [
                    {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                "AmazonAPIGatewayPushToCloudWatchLogs"}
                ],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}},
        },
    }


def rest_api_properties(app: str, stage: str, settings) -> dict:
    """Merged into Chalice's RestAPI: its name (the alarms' dimension), access
    logs, stage throttling and metrics, tracing."""
    return {
        "DependsOn": ["ApiGatewayAccount"],
        "Properties": {
            "Name": stage_names(stage, app).rest_api,
            "TracingEnabled": settings.api_tracing,
            "AccessLogSetting": {
                "DestinationArn": {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                    "${ApiAccessLogGroup}"
                },
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            },
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": {"Ref": "ThrottleRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ThrottleBurstLimit"},
                    "MetricsEnabled": True,
                }
            ],
        },
    }


def web_acl(app: str, stage: str) -> dict:
    """An optional AWS WAF web ACL: a per-source-address rate rule, answered
    429 `{"error": ...}` like the rest of the API, attached to the stage."""
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True}
    names = stage_names(stage, app)
    return {
        "WebAcl": {
            "Type": "AWS::WAFv2::WebACL",
            "Condition": "HasWebAcl",
            "Properties": {
                "Name": names.rest_api,
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                "CustomResponseBodies": {
                    "too-many-requests": {
                        "ContentType": "APPLICATION_JSON",
                        "Content": '{"error":"too many requests from this address, retry later"}',
                    }
                },
                "Rules": [
                    {
                        "Name": "per-address-rate",
                        "Priority": 0,
                        "Statement": {
                            "RateBasedStatement": {
                                "Limit": {"Ref": "WafRateLimit"},
                                "AggregateKeyType": "IP",
                                "EvaluationWindowSec": 300,
                            }
                        },
                        "Action": {
                            "Block": {
                                "CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "too-many-requests"}
                            }
                        },
                        "VisibilityConfig": {**visibility, "MetricName": names.qualified("per-address-rate")},
                    }
                ],
                "VisibilityConfig": {**visibility, "MetricName": names.qualified("web-acl")},
            },
        },
        "WebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Condition": "HasWebAcl",
            "Properties": {
                "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]},
                "ResourceArn": {
                    "Fn::Join": [
                        "",
                        [
                            {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::"
                                        "/restapis/${RestAPI}/stages/"},
                            {"Ref": "RestAPI.Stage"},
                        ],
                    ]
                },
            },
        },
    }


def _alarm(description: str, metric: dict, **properties) -> dict:
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "ActionsEnabled": True,
            "AlarmActions": notify,
            "OKActions": notify,
            "TreatMissingData": "notBreaching",
            **metric,
            **properties,
        },
    }


def alarms(app: str, stage: str, api_gateway_stage: str) -> dict:
    """Alarms on what a user would notice: 5xx answers, an authorizer failing
    (every protected request answered 503), throttled functions."""
    api = {"Namespace": "AWS/ApiGateway",
           "Dimensions": [{"Name": "ApiName", "Value": stage_names(stage, app).rest_api},
                          {"Name": "Stage", "Value": api_gateway_stage}]}

    def function_metric(name: str, logical_id: str) -> dict:
        return {"Namespace": "AWS/Lambda", "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]}

    see = "See docs/operations.md#"
    # Any error or throttle in two of five minutes: one is already a refused client.
    any_in_two_of_five_minutes = {"Statistic": "Sum", "Period": 60, "EvaluationPeriods": 5, "DatapointsToAlarm": 2,
                                  "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold"}
    return {
        "Api5xxRateAlarm": _alarm(
            f"latchkey {stage}: over 5% of API answers were 5xx for 5 minutes. {see}5xx-rate",
            {**api, "MetricName": "5XXError"},
            Statistic="Average", Period=60, EvaluationPeriods=5, DatapointsToAlarm=5,
            Threshold=0.05, ComparisonOperator="GreaterThanThreshold",
        ),
        "AuthorizerErrorsAlarm": _alarm(
            f"latchkey {stage}: the token authorizer failed (clients got 503). {see}authorizer-errors",
            function_metric("Errors", TOKEN_AUTHORIZER_LOGICAL_ID),
            **any_in_two_of_five_minutes,
        ),
        "AuthorizerThrottlesAlarm": _alarm(
            f"latchkey {stage}: the token authorizer was throttled (clients got 503/500). {see}throttles",
            function_metric("Throttles", TOKEN_AUTHORIZER_LOGICAL_ID),
            **any_in_two_of_five_minutes,
        ),
        "ApiThrottlesAlarm": _alarm(
            f"latchkey {stage}: the API function was throttled (clients got 502/503). {see}throttles",
            function_metric("Throttles", API_LOGICAL_ID),
            **any_in_two_of_five_minutes,
        ),
    }


def stage_template(app: str, stage: str, api_gateway_stage: str, settings) -> dict:
    """Every operations fragment of a stage, as a template to merge."""
    resources = {}
    resources.update(log_groups())
    resources.update(access_logs(app, stage))
    resources.update(web_acl(app, stage))
    resources.update(alarms(app, stage, api_gateway_stage))
    resources.update(function_properties(app, stage, settings))
    resources[REST_API_LOGICAL_ID] = rest_api_properties(app, stage, settings)
    return {"Parameters": parameters(settings), "Conditions": conditions(), "Resources": resources}
