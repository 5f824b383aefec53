"""The uploads table: what CI sent for each commit, and its summaries.

Raw bodies live in S3 (`chalicelib.store.uploads`); this table holds one
item per accepted upload, pointing at its object, with the summary
computed when it arrived. Everything of a repository shares one partition,
keyed by the repository's immutable id (never its name: a repository
created again under an old name starts empty), so a commit's read-back is
one Query and deleting a repository's uploads needs no Scan:

- pk `repo#<repository id>`
- sk `<commit>#coverage`: the commit's coverage read-back, merged as each
  report arrived (`summary`: totals, the reports, the language states and
  the per-file rows in the bucket), with a `version` that every change
  bumps through a conditional write: concurrent uploads never lose one
  another's report, and of two complete reports of one language the one
  written last is the one kept;
- sk `<commit>#analysis`: the analysis read-back, merged likewise;
- sk `<commit>#batch#<kind>#<digest>`: marks an analysis batch as counted
  (digest = SHA-256 of the body: a client's retry is not counted twice).

A repository's analysis configuration, when one is set, is the item
sk `configuration` of its partition. Raw bodies and the per-file rows live
in S3 under `uploads/<repository id>/<commit>/`.
"""
from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.owner_key import OwnerKey
from chalicelib.settings import get_settings

TABLE = get_settings().uploads_table

COVERAGE = "coverage"
ANALYSIS = "analysis"
BATCH = "batch"
ISSUES = "issues"
METRICS = "metrics"
DUPLICATION = "duplication"
CONFIGURATION = "configuration"
ANALYSIS_KINDS = (ISSUES, METRICS, DUPLICATION)


def repository_key(repository_id: float) -> str:
    """The repository's partition: its owner key (chalicelib.owner_key)."""
    return str(OwnerKey.repository(repository_id))


def commit_sk(commit: str, *parts: str) -> str:
    """`<commit>#<parts...>`: a commit's items sort together in its repository."""
    return "#".join((commit, *parts))


def batch_sk(commit: str, kind: str, digest: str) -> str:
    return commit_sk(commit, BATCH, kind, digest)


class UploadItem(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    version = NumberAttribute(null=True)  # read-backs: bumped by every change
    final_at = UTCDateTimeAttribute(null=True)  # read-backs: coverageFinal / resultsFinal
    summary = JSONAttribute(null=True)  # read-backs: computed as data arrived
