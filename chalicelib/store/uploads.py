"""Every S3 and DynamoDB call of uploads from CI.

Ordering is the safety rule: the raw body is written to S3 first, then the
item that points at it. A failure between the two leaves an unreferenced
object (harmless), never an item pointing at nothing. Object keys and item
keys are derived from the body's SHA-256, so a client's retry after a
timeout rewrites the same object and the same item: nothing is duplicated.

The S3 client is built on first use with plain botocore (cheaper to import
than boto3, and only requests that upload pay for it).
"""
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from pynamodb.transactions import TransactWrite

from chalicelib.errors import BadRequest
from chalicelib.models.uploads import CONFIGURATION, COVERAGE_FINAL, UploadItem, commit_key
from chalicelib.names import is_dot_segment
from chalicelib.settings import get_settings
from chalicelib.store import dependency_errors

# DynamoDB allows 100 actions per transaction: the new item plus 99 others.
_TRANSACTION_SIZE = 99
_READ_WORKERS = 8


@functools.lru_cache(maxsize=1)
def s3_client():
    """The S3 client: botocore "standard" retries, bounded like DynamoDB's."""
    import botocore.session
    from botocore.config import Config

    settings = get_settings()
    s3_options = {}
    if os.environ.get("AWS_ENDPOINT_URL"):
        # A local endpoint (make run) is an IP address: no virtual hosts.
        s3_options["addressing_style"] = "path"
    config = Config(
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
        connect_timeout=settings.aws_connect_timeout_seconds,
        # Bodies reach 10 MB: allow a transfer more time than a DynamoDB call.
        read_timeout=max(settings.aws_read_timeout_seconds, 10.0),
        s3=s3_options,
    )
    return botocore.session.get_session().create_client("s3", region_name=settings.region, config=config)


def object_key(repository: str, commit: str, *parts: str) -> str:
    """`<uploads prefix><provider>/<org>/<repo>/<commit>/<parts...>`; each part URL-quoted.

    The prefix (UPLOADS_PREFIX, `uploads/`) is all the API's IAM policy lets
    it touch in the bucket.
    """
    segments = [*repository.split("/"), commit, *(quote(part, safe="") for part in parts)]
    if any(is_dot_segment(segment) or not segment for segment in segments):
        # Names are checked where they enter (chalicelib.names); a key never
        # holds a dot segment whatever a caller sent.
        raise BadRequest(f"not a valid upload key: {'/'.join(segments)!r}")
    return get_settings().uploads_prefix + "/".join(segments)


def ensure_bucket() -> bool:
    """Create the uploads bucket if it is missing (local stack, tests)."""
    client = s3_client()
    bucket = get_settings().uploads_bucket
    with dependency_errors():
        existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
        if bucket in existing:
            return False
        client.create_bucket(Bucket=bucket)
    return True


class UploadStore:
    def __init__(self, settings=None):
        self.settings = settings or get_settings()

    @property
    def bucket(self) -> str:
        return self.settings.uploads_bucket

    # -- S3 ---------------------------------------------------------------

    def put_object(self, key: str, body: bytes) -> None:
        with dependency_errors():
            s3_client().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def get_object(self, key: str) -> bytes:
        with dependency_errors():
            return s3_client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_objects(self, keys: list[str]) -> list[bytes]:
        """Several objects, fetched in parallel, in the order asked."""
        if len(keys) <= 1:
            return [self.get_object(key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(_READ_WORKERS, len(keys))) as pool:
            return list(pool.map(self.get_object, keys))

    # -- DynamoDB ---------------------------------------------------------

    def commit_items(self, repository: str, commit: str) -> list[UploadItem]:
        """Every item of one commit (one strongly consistent Query)."""
        with dependency_errors():
            return list(UploadItem.query(commit_key(repository, commit), consistent_read=True))

    def save(self, item: UploadItem) -> None:
        """Write `item` (an overwrite when a retry brings the same key)."""
        with dependency_errors():
            item.save()

    def save_coverage(self, item: UploadItem, replaced: list[UploadItem], reopen: bool) -> None:
        """Store a coverage report item and drop what it replaces, atomically.

        `replaced`: earlier reports of the same language that a complete
        report supersedes. `reopen`: a partial report arrived, so an
        earlier `coverageFinal` no longer covers everything.
        """
        removals = [old for old in replaced if old.sk != item.sk]
        if reopen:
            removals.append(UploadItem(item.pk, COVERAGE_FINAL))
        first, rest = removals[:_TRANSACTION_SIZE], removals[_TRANSACTION_SIZE:]
        with dependency_errors():
            connection = UploadItem._get_connection().connection
            with TransactWrite(connection=connection) as transaction:
                transaction.save(item)
                for old in first:
                    transaction.delete(UploadItem(old.pk, old.sk))
            if rest:
                with UploadItem.batch_write() as batch:
                    for old in rest:
                        batch.delete(UploadItem(old.pk, old.sk))

    def configuration(self, repository: str) -> dict | None:
        """The repository's analysis configuration, if one was ever set."""
        with dependency_errors():
            try:
                item = UploadItem.get(repository, CONFIGURATION, consistent_read=True)
            except UploadItem.DoesNotExist:
                return None
        return item.summary


    def save_configuration(self, repository: str, configuration: dict, at, events: list) -> None:
        """Set the repository's analysis configuration and record who set it
        (`events`: its audit items), in one transaction: a configuration is
        set exactly when its change is on record."""
        item = UploadItem(repository, CONFIGURATION, kind=CONFIGURATION, received_at=at, summary=configuration)
        with dependency_errors():
            connection = UploadItem._get_connection().connection
            with TransactWrite(connection=connection) as transaction:
                transaction.save(item)
                for event in events:
                    transaction.save(event)
