"""Hand-written, least-privilege IAM policies, one per Lambda function.

Chalice's policy autogeneration cannot see PynamoDB's calls, so
`autogen_policy` is off and these are the only permissions each function's
role gets. Every DynamoDB/S3 statement names its tables, indexes or bucket
prefix: no `*` resource.

- `token_authorizer`: one consistent GetItem on the tokens table per
  request, and the "last used" UpdateItem, which IAM restricts to the key
  and `last_used_at` attributes (dynamodb:Attributes) returning nothing
  (dynamodb:ReturnValues); PutItem on the audit table (refused uses). Not
  the directory: a disabled owner is read from the token's own item.
- `api_handler`: item reads and writes, queries of their indexes and
  transactions on the service's own tables, but only puts and reads on the
  audit table (append-only: AUDIT_ACTIONS); get, put and delete of objects
  under the uploads prefix of its own bucket (S3_CALL_ACTIONS: exactly the
  calls it makes; no listing, no multipart).

- `sweeper`: the tokens table and its sweep indexes, owners' addresses in
  the directory, audit events, and SES from NOTIFY_FROM only.

Each may write its own CloudWatch log group.
"""

from chalicelib.functions import SWEEPER_NAME, TOKEN_AUTHORIZER_NAME
from chalicelib.stage_names import stage_names

API_FUNCTION = "api_handler"

ITEM_READS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
ITEM_WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
]
# Exactly the S3 calls the API makes, and the action each needs. The policy
# grants the actions of these calls and nothing else (tests/test_infra_policies.py
# checks it against the calls in chalicelib/): `s3:DeleteObject` is for
# deleting a repository's uploads (issue 11's repository deletion).
S3_CALL_ACTIONS = {
    "get_object": "s3:GetObject",  # an upload read back (UploadStore.get_object)
    "put_object": "s3:PutObject",  # an upload stored, always in one part (UploadStore.put_object)
    "delete_object": "s3:DeleteObject",  # a repository's uploads deleted
    "delete_objects": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",  # a deleted repository's uploads found (UploadStore.purge_step)
}
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# The audit table is append-only for the stage's roles: items are put (each
# only if absent, in code), read and queried, never updated or deleted.
# DynamoDB TTL removes them after AUDIT_RETENTION_DAYS; only credentials
# outside the stage (an account administrator) can delete one earlier.
AUDIT_ACTIONS = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"]


def _logs_statement(arns, function_name: str):
    if hasattr(arns, "account"):
        group = f"arn:{arns.partition}:logs:{arns.region}:{arns.account}:log-group:/aws/lambda/{function_name}"
        resource: list = [group, f"{group}:*"]
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


def assumed_by(service: str) -> dict:
    """A role's trust policy: only `service` (e.g. apigateway.amazonaws.com) may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def tracing_statement() -> dict:
    """X-Ray's write actions take no resource-level permissions: `*` is the only form."""
    return {
        "Sid": "Tracing",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }


def authorizer_policy(
    arns, *, app: str, stage: str, tokens_table: str, audit_table: str, token_key: str, last_used_attribute: str,
    use_attributes: tuple[str, ...] = (), session_seen_attribute: str | None = None, tracing: bool = False,
) -> dict:
    """`use_attributes`: what else the authorizer's UpdateItem writes (issue
    16: the sweeper's activity key, and the use count of maxUses tokens)."""
    # A console session's "last seen" (its idle limit) is moved on like a token's "last used".
    touched = [token_key, last_used_attribute, *use_attributes] + ([session_seen_attribute] if session_seen_attribute
                                                                   else [])
    policy: dict = {
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
                # Expiry hits and uses of a disabled owner's token (the token
                # item carries the mark: no directory read) go on the audit
                # trail (chalicelib/authorizer.py): new items only, one
                # PutItem or one transaction of puts (an event and its mark).
                "Sid": "RecordRefusals",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": [arns.dynamodb_table(audit_table)],
            },
            _logs_statement(arns, stage_names(stage, app).qualified(TOKEN_AUTHORIZER_NAME)),
        ],
    }
    if tracing:
        policy["Statement"].append(tracing_statement())
    return policy


def api_policy(arns, *, app: str, stage: str, tables: dict[str, list[str]], bucket: str, prefix: str,
               append_only: tuple[str, ...] | list[str] = (), tracing: bool = False) -> dict:
    """`tables` maps each table name to its index names; tables in
    `append_only` (the audit table) get AUDIT_ACTIONS only."""
    table_arns = [arns.dynamodb_table(name) for name in sorted(tables) if name not in append_only]
    index_arns = [arns.dynamodb_table(name, index) for name in sorted(tables) for index in tables[name]]
    statements: list[dict] = [
        {
            "Sid": "OwnTables",
            "Effect": "Allow",
            "Action": ITEM_READS + ITEM_WRITES,
            "Resource": table_arns,
        },
    ]
    kept = [arns.dynamodb_table(name) for name in sorted(tables) if name in append_only]
    if kept:
        statements.append({"Sid": "AppendAuditTrail", "Effect": "Allow", "Action": AUDIT_ACTIONS, "Resource": kept})
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
            # Listing is a bucket action: only under the uploads prefix.
            "Sid": "ListOwnUploads",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [arns.s3_bucket(bucket)],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
        _logs_statement(arns, stage_names(stage, app).api_function),
    ]
    if tracing:
        statements.append(tracing_statement())
    return {"Version": "2012-10-17", "Statement": statements}


def _ses_identity(arns, identity: str):
    if hasattr(arns, "account"):
        return f"arn:{arns.partition}:ses:{arns.region}:{arns.account}:identity/{identity}"
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{identity}"}


def sweeper_policy(arns, *, app: str, stage: str, tokens_table: str, tokens_indexes: list[str],
                   directory_table: str, audit_table: str, notify_from: str | None) -> dict:
    """The daily sweeper (issue 16): queries of the tokens table's sweep
    indexes, the token transactions it writes (marks, deletes), owners'
    addresses from the directory, audit events; SES only from NOTIFY_FROM."""
    statements = [
        {
            "Sid": "SweepTokens",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
            "Resource": [arns.dynamodb_table(tokens_table)],
        },
        {
            "Sid": "SweepIndexes",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [arns.dynamodb_table(tokens_table, index) for index in tokens_indexes],
        },
        {
            "Sid": "OwnersAddresses",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [arns.dynamodb_table(directory_table)],
        },
        {
            "Sid": "RecordSweeps",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:BatchWriteItem"],
            "Resource": [arns.dynamodb_table(audit_table)],
        },
        _logs_statement(arns, stage_names(stage, app).qualified(SWEEPER_NAME)),
    ]
    if notify_from:
        statements.append({
            "Sid": "ExpiryNotices",
            "Effect": "Allow",
            "Action": ["ses:SendEmail"],
            # The verified identity may be the address or its domain.
            "Resource": [_ses_identity(arns, notify_from), _ses_identity(arns, notify_from.rpartition("@")[2])],
        })
    return {"Version": "2012-10-17", "Statement": statements}
