"""Every S3 and DynamoDB call of uploads from CI.

Ordering is the safety rule: objects are written to S3 first, then the
item that points at them. A failure between the two leaves an unreferenced
object (harmless, removed with its repository), never an item pointing at
nothing. Raw bodies are keyed by their SHA-256, so a client's retry after
a timeout rewrites the same object.

A read-back item changes only through a write conditioned on the version
it was read at (`put_readback`): of two writers that read the same
version, one wins and the other reads again and redoes its change on top.

The S3 client is built on first use with plain botocore (cheaper to import
than boto3, and only requests that upload pay for it).
"""
import functools
import logging
import os
from urllib.parse import quote

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import BadRequest, Unavailable
from chalicelib.models.uploads import CONFIGURATION, UploadItem, repository_key
from chalicelib.names import is_dot_segment
from chalicelib.settings import Settings, get_settings
from chalicelib.store import cancellation_codes, dependency_errors, is_condition_failure, save_audit_items

log = logging.getLogger(__name__)

# S3 DeleteObjects takes 1,000 keys; BatchWriteItem 25 items (PynamoDB
# batches for us). One purge step handles at most this much.
PURGE_BATCH = 1000


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
        # Bodies reach 6 MB: allow a transfer more time than a DynamoDB call.
        read_timeout=max(settings.aws_read_timeout_seconds, 10.0),
        s3=s3_options,
    )
    return botocore.session.get_session().create_client("s3", region_name=settings.region, config=config)


def object_key(repository_id: int, commit: str, *parts: str) -> str:
    """`<uploads prefix><repository id>/<commit>/<parts...>`; each part URL-quoted.

    The prefix (UPLOADS_PREFIX, `uploads/`) is all the API's IAM policy lets
    it touch in the bucket.
    """
    segments = [commit, *(quote(part, safe="") for part in parts)]
    if any(is_dot_segment(segment) or not segment for segment in segments):
        # Names are checked where they enter (chalicelib.names); a key never
        # holds a dot segment whatever a caller sent.
        raise BadRequest(f"not a valid upload key: {'/'.join(segments)!r}")
    return repository_prefix(repository_id) + "/".join(segments)


def repository_prefix(repository_id: int) -> str:
    return f"{get_settings().uploads_prefix}{int(repository_id)}/"


def ensure_bucket(*, fresh: bool = False) -> bool:
    """Create the uploads bucket if it is missing (local stack, tests; `fresh`:
    the endpoint is known to be empty)."""
    client = s3_client()
    bucket = get_settings().uploads_bucket
    with dependency_errors():
        existing = set() if fresh else {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
        if bucket in existing:
            return False
        client.create_bucket(Bucket=bucket)
    return True


class UploadStore:
    def __init__(self, settings: Settings):
        self.settings = settings

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

    def get_range(self, key: str, first: int, last: int) -> bytes | None:
        """Bytes first..last (inclusive) of an object; None if it is gone (a
        newer version replaced it since its item was read)."""
        with dependency_errors():
            try:
                return s3_client().get_object(Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}")["Body"].read()
            except s3_client().exceptions.NoSuchKey:
                return None

    def find_object(self, key: str) -> bytes | None:
        with dependency_errors():
            try:
                return s3_client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except s3_client().exceptions.NoSuchKey:
                return None

    def delete_objects(self, keys) -> None:
        """Delete objects (superseded versions): best effort, never raises.
        What is left is removed with its repository."""
        keys = [key for key in keys if key]
        try:
            for start in range(0, len(keys), PURGE_BATCH):
                chunk = keys[start:start + PURGE_BATCH]
                s3_client().delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk],
                                                                         "Quiet": True})
        except Exception as error:  # noqa: BLE001 - by contract: garbage is collected with the repository
            log.warning("superseded objects left in place: %s", type(error).__name__)

    # -- DynamoDB ---------------------------------------------------------

    def readback(self, repository_id: int, sk: str) -> UploadItem | None:
        """A read-back item (one strongly consistent GetItem)."""
        with dependency_errors():
            try:
                return UploadItem.get(repository_key(repository_id), sk, consistent_read=True)
            except UploadItem.DoesNotExist:
                return None

    def put_readback(self, item: UploadItem, read_version: int | None, marker: UploadItem | None = None) -> bool:
        """Write `item` if it is still at `read_version` (None: if it does not
        exist yet); with `marker`, only if the marker does not exist, in the
        same transaction. False if either condition fails: read again."""
        condition = (UploadItem.version.does_not_exist() if read_version is None
                     else UploadItem.version == read_version)
        with dependency_errors():
            if marker is None:
                try:
                    item.save(condition=condition)
                except PutError as error:
                    if is_condition_failure(error):
                        return False
                    raise
                return True
            try:
                with TransactWrite(connection=UploadItem._get_connection().connection) as transaction:
                    transaction.save(item, condition=condition)
                    transaction.save(marker, condition=UploadItem.pk.does_not_exist())
            except TransactWriteError as error:
                if "ConditionalCheckFailed" in cancellation_codes(error):
                    return False
                raise
        return True

    def exists(self, repository_id: int, sk: str) -> bool:
        return self.readback(repository_id, sk) is not None

    def configuration(self, repository_id: int) -> dict | None:
        """The repository's analysis configuration, if one was ever set."""
        with dependency_errors():
            try:
                item = UploadItem.get(repository_key(repository_id), CONFIGURATION, consistent_read=True)
            except UploadItem.DoesNotExist:
                return None
        return item.summary


    def save_configuration(self, repository_id: int, configuration: dict, at, events: list) -> None:
        """Set the repository's analysis configuration and record who set it
        (`events`: its audit items), in one transaction: a configuration is
        set exactly when its change is on record."""
        item = UploadItem(repository_key(repository_id), CONFIGURATION, kind=CONFIGURATION, received_at=at,
                          summary=configuration)
        with dependency_errors():
            connection = UploadItem._get_connection().connection
            with TransactWrite(connection=connection) as transaction:
                transaction.save(item)
                save_audit_items(transaction, events)

    # -- deleting a repository's uploads ----------------------------------

    def purge_step(self, repository_id: int) -> tuple[int, int]:
        """Delete at most PURGE_BATCH objects and PURGE_BATCH items of a
        repository; (objects, items) deleted. (0, 0) when nothing is left.

        Each step is bounded and idempotent: a purge cut short by a failure
        resumes where it stopped when it is run again.
        """
        prefix = repository_prefix(repository_id)
        with dependency_errors():
            listed = s3_client().list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=PURGE_BATCH)
            keys = [entry["Key"] for entry in listed.get("Contents", [])]
            if keys:
                answer = s3_client().delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in keys], "Quiet": True})
                if answer.get("Errors"):  # not deleted: stop here, resume on the next run
                    raise Unavailable()
            items = list(UploadItem.query(repository_key(repository_id), limit=PURGE_BATCH,
                                          attributes_to_get=["pk", "sk"], consistent_read=True))
            if items:
                with UploadItem.batch_write() as batch:
                    for item in items:
                        batch.delete(UploadItem(item.pk, item.sk))
        return len(keys), len(items)
