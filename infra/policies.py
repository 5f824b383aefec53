"""Hand-written, least-privilege IAM policies, one per Lambda function.

Chalice's policy autogeneration cannot see PynamoDB's calls, so
`autogen_policy` is off and these are the only permissions each function's
role gets. Every DynamoDB/S3 statement names its tables, indexes or bucket
prefix: no `*` resource.

- `token_authorizer`: one consistent GetItem on the tokens table per
  request, and the "last used" UpdateItem, which IAM restricts to the key
  and `last_used_at` attributes (dynamodb:Attributes) returning nothing
  (dynamodb:ReturnValues); read-only items of the directory table.
- `api_handler`: item reads and writes, queries of their indexes and
  transactions on the service's own tables; objects under the uploads
  prefix of its own bucket.

Both may write their own CloudWatch log group.
"""

from chalicelib.gateway import TOKEN_AUTHORIZER_NAME

API_FUNCTION = "api_handler"

ITEM_READS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
ITEM_WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
]
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


def _logs_statement(arns, function_name: str):
    if hasattr(arns, "account"):
        group = f"arn:{arns.partition}:logs:{arns.region}:{arns.account}:log-group:/aws/lambda/{function_name}"
        resource = [group, f"{group}:*"]
    else:
        group = (
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function_name}"
        )
        resource = [{"Fn::Sub": group}, {"Fn::Sub": f"{group}:*"}]
    return {
        "Sid": "OwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": resource,
    }


def authorizer_policy(
    arns, *, app: str, stage: str, tokens_table: str, audit_table: str, token_key: str, last_used_attribute: str,
    session_seen_attribute: str | None = None,
) -> dict:
    # A console session's "last seen" (its idle limit) is moved on like a token's "last used".
    touched = [token_key, last_used_attribute] + ([session_seen_attribute] if session_seen_attribute else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTokens",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem"],
                "Resource": [arns.dynamodb_table(tokens_table)],
            },
            {
                "Sid": "RecordLastUse",
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": [arns.dynamodb_table(tokens_table)],
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:Attributes": touched},
                    "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
                },
            },
            {
                # Expiry hits and uses of a disabled owner's token go on the
                # audit trail (chalicelib/authorizer.py): new items only.
                "Sid": "RecordRefusals",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:BatchWriteItem"],
                "Resource": [arns.dynamodb_table(audit_table)],
            },
            _logs_statement(arns, f"{app}-{stage}-{TOKEN_AUTHORIZER_NAME}"),
        ],
    }


def api_policy(arns, *, app: str, stage: str, tables: dict[str, list[str]], bucket: str, prefix: str) -> dict:
    """`tables` maps each table name to its index names."""
    table_arns = [arns.dynamodb_table(name) for name in sorted(tables)]
    index_arns = [arns.dynamodb_table(name, index) for name in sorted(tables) for index in tables[name]]
    statements = [
        {
            "Sid": "OwnTables",
            "Effect": "Allow",
            "Action": ITEM_READS + ITEM_WRITES,
            "Resource": table_arns,
        },
    ]
    if index_arns:
        statements.append(
            {"Sid": "OwnIndexes", "Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": index_arns}
        )
    statements += [
        {
            "Sid": "OwnUploads",
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": [arns.s3_bucket(bucket, f"{prefix}*")],
        },
        {
            "Sid": "ListOwnUploads",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [arns.s3_bucket(bucket)],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
        _logs_statement(arns, f"{app}-{stage}"),
    ]
    return {"Version": "2012-10-17", "Statement": statements}
