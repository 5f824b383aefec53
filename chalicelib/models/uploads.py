"""The uploads table: what CI sent for each commit, and its summaries.

Raw bodies live in S3 (`chalicelib.store.uploads`); this table holds one
item per accepted upload, pointing at its object, with the summary
computed when it arrived. All items of a commit share a partition, so a
read-back is one Query:

- pk `<provider>/<org>/<repo>#<commit>`
- sk `coverage#<language>#<digest>`: a coverage report (digest = SHA-256
  of the body, so a retried upload lands on the same item);
- sk `coverage-final`: `coverageFinal` arrived (with the merged totals);
- sk `issues#<digest>`, `metrics#<digest>`, `duplication#<digest>`: one
  analysis results batch each;
- sk `results-final`: `resultsFinal` arrived.

A repository's analysis configuration, when one is set, is the item
pk `<provider>/<org>/<repo>`, sk `configuration`.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models import table_meta
from chalicelib.settings import get_settings

TABLE = get_settings().uploads_table

COVERAGE = "coverage"
COVERAGE_FINAL = "coverage-final"
ISSUES = "issues"
METRICS = "metrics"
DUPLICATION = "duplication"
RESULTS_FINAL = "results-final"
CONFIGURATION = "configuration"
ANALYSIS_KINDS = (ISSUES, METRICS, DUPLICATION)


def commit_key(repository: str, commit: str) -> str:
    return f"{repository}#{commit}"


def coverage_sk(language: str, digest: str) -> str:
    return f"{COVERAGE}#{language}#{digest}"


class UploadItem(Model):
    Meta = table_meta(TABLE)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    language = UnicodeAttribute(null=True)  # coverage reports
    partial = BooleanAttribute(null=True)  # coverage reports
    object_key = UnicodeAttribute(null=True)  # the raw body in the bucket
    size = NumberAttribute(null=True)  # bytes of the raw body
    summary = JSONAttribute(null=True)  # computed when it arrived
