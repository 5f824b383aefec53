"""The stage's data: DynamoDB tables and the uploads bucket, as CloudFormation.

Tables are generated from `chalicelib.store.tables.TABLE_MODELS` through
PynamoDB's own schema (`Model._get_schema()`): keys, attribute types and
indexes are exactly what the code queries, and a model added to
TABLE_MODELS gets its table on the next deploy. A model with a
`TTLAttribute` gets DynamoDB TTL on that attribute.
"""
from pynamodb.attributes import TTLAttribute

RETAINED_STAGES = frozenset({"prod"})


def logical_id(model) -> str:
    """A table's CloudFormation logical id: stable across stages."""
    return f"{model.__name__}Table"


def ttl_attribute(model) -> str | None:
    """The attribute name DynamoDB should expire items by, if the model has one."""
    names = [attr.attr_name for attr in model.get_attributes().values() if isinstance(attr, TTLAttribute)]
    if len(names) > 1:
        raise ValueError(f"{model.__name__} has several TTLAttributes: {names}")
    return names[0] if names else None


def _key_schema(elements: list[dict]) -> list[dict]:
    # DynamoDB and CloudFormation want HASH before RANGE.
    ordered = sorted(elements, key=lambda e: 0 if e["KeyType"] == "HASH" else 1)
    return [{"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in ordered]


def table_resource(model, stage: str) -> dict:
    """One AWS::DynamoDB::Table for `model` (its Meta.table_name)."""
    schema = model._get_schema()
    protected = stage in RETAINED_STAGES
    properties = {
        "TableName": model.Meta.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": protected,
        "Tags": [{"Key": "latchkey:stage", "Value": stage}],
    }
    for prop, key in (("GlobalSecondaryIndexes", "global_secondary_indexes"),
                      ("LocalSecondaryIndexes", "local_secondary_indexes")):
        indexes = [
            {
                "IndexName": index["index_name"],
                "KeySchema": _key_schema(index["key_schema"]),
                "Projection": index["projection"],
            }
            for index in schema.get(key) or []
        ]
        if indexes:
            properties[prop] = sorted(indexes, key=lambda i: i["IndexName"])
    ttl = ttl_attribute(model)
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    policy = "Retain" if protected else "Delete"
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": policy,
        "UpdateReplacePolicy": policy,
        "Properties": properties,
    }


def index_names(model) -> list[str]:
    schema = model._get_schema()
    return sorted(
        index["index_name"]
        for kind in ("global_secondary_indexes", "local_secondary_indexes")
        for index in schema.get(kind) or []
    )


def bucket_resources(bucket: str, stage: str) -> dict:
    """The uploads bucket: private, encrypted, versioned, TLS only."""
    policy = "Retain" if stage in RETAINED_STAGES else "Delete"
    return {
        "UploadsBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": policy,
            "UpdateReplacePolicy": policy,
            "Properties": {
                "BucketName": bucket,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            # Versioning guards against mistakes, not for ever:
                            # replaced or deleted uploads go after 30 days.
                            "Id": "expire-noncurrent-versions",
                            "Status": "Enabled",
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
                "Tags": [{"Key": "latchkey:stage", "Value": stage}],
            },
        },
        "UploadsBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "UploadsBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::GetAtt": ["UploadsBucket", "Arn"]},
                                {"Fn::Sub": "${UploadsBucket.Arn}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


def data_template(models, bucket: str, stage: str) -> dict:
    """The stack `make deploy` creates before Chalice: every table and the bucket."""
    resources = {logical_id(model): table_resource(model, stage) for model in models}
    resources.update(bucket_resources(bucket, stage))
    outputs = {
        logical_id(model): {"Value": {"Ref": logical_id(model)}, "Description": f"{model.__name__} table"}
        for model in models
    }
    outputs["UploadsBucket"] = {"Value": {"Ref": "UploadsBucket"}, "Description": "uploads bucket"}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"latchkey {stage}: DynamoDB tables and the uploads bucket",
        "Resources": resources,
        "Outputs": outputs,
    }
