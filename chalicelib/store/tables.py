"""Creating the tables (and bucket) a stage needs, where they are missing.

Used by `make run`, `manage.py` and the tests; deployed stages get theirs
from the CloudFormation stack instead.
"""
from chalicelib.models.audit import AuditEvent
from chalicelib.models.directory import DirectoryItem
from chalicelib.models.tokens import Token
from chalicelib.models.uploads import UploadItem
from chalicelib.settings import get_settings
from chalicelib.store.uploads import ensure_bucket

TABLE_MODELS = [Token, DirectoryItem, UploadItem, AuditEvent]


def ensure_tables(*, fresh: bool = False) -> list[str]:
    """Create every missing table; return the names created.

    `fresh`: the endpoint is known to be empty (a new in-process moto, as in
    every test), so nothing is asked before creating: a third of the calls.
    """
    created = []
    for model in TABLE_MODELS:
        if fresh or not model.exists():
            model.create_table(wait=not fresh, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    if ensure_bucket(fresh=fresh):
        created.append(f"s3://{_bucket()}")
    return created


def _bucket() -> str:
    return get_settings().uploads_bucket
