"""Every setting, read from the environment once.

Stage variables in `.chalice/config.json` become environment variables of the
Lambda functions; `make run`, `manage.py` and the tests set the same names.
A bad value fails at import with a message naming the variable, not later
inside a request.
"""
import functools
import os
from dataclasses import dataclass


class SettingsError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    region: str
    tokens_table: str
    directory_table: str
    uploads_table: str
    uploads_bucket: str
    audit_table: str
    max_account_tokens: int
    max_project_tokens: int
    last_used_interval_seconds: int
    max_token_lifetime_days: int
    authorizer_ttl_seconds: int
    audit_retention_days: int
    # botocore "standard" retry mode: how many attempts in all, and how long
    # a single call may take before it is abandoned.
    aws_max_attempts: int
    aws_connect_timeout_seconds: float
    aws_read_timeout_seconds: float
    # Where uploads live in UPLOADS_BUCKET: the API's IAM policy grants
    # object access under this prefix only.
    uploads_prefix: str = "uploads/"
    # Uploads from CI. Codacy documents 10 MB, but Lambda takes at most 6 MB
    # (6,291,456 bytes) of request event, in which the body travels as a
    # JSON string (every `"` and `\` escaped): the limit is 6,000,000 bytes
    # of body *as escaped there*, leaving room for the event's headers
    # (docs/uploads.md). Clients batch at most 50,000 analysis results.
    max_upload_bytes: int = 6_000_000
    max_analysis_results: int = 50_000
    # One commit's coverage, bounded so that merging a report into it stays
    # within the API Lambda's memory and time: raw bytes kept, reports,
    # files, and line span (the sum of each file's highest line: a bit each).
    max_coverage_bytes_per_commit: int = 64 * 1024 * 1024
    max_coverage_reports_per_commit: int = 200
    max_coverage_files_per_commit: int = 100_000
    max_coverage_lines_per_commit: int = 20_000_000
    # One commit's analysis results: results, files with issues, raw bytes,
    # and distinct tools / languages / levels (the read-back lists them).
    max_analysis_results_per_commit: int = 1_000_000
    max_analysis_files_per_commit: int = 100_000
    max_analysis_bytes_per_commit: int = 256 * 1024 * 1024
    max_analysis_names_per_commit: int = 50


def _int(environ, name, default, minimum=0, maximum=None):
    raw = environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _float(environ, name, default):
    raw = environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def from_environ(environ) -> Settings:
    """Build settings from a mapping of environment variables."""
    prefix = environ.get("LATCHKEY_RESOURCE_PREFIX", "latchkey-dev")
    return Settings(
        region=environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or "us-east-1",
        tokens_table=environ.get("TOKENS_TABLE", f"{prefix}-tokens"),
        directory_table=environ.get("DIRECTORY_TABLE", f"{prefix}-directory"),
        uploads_table=environ.get("UPLOADS_TABLE", f"{prefix}-uploads"),
        uploads_bucket=environ.get("UPLOADS_BUCKET", f"{prefix}-uploads"),
        audit_table=environ.get("AUDIT_TABLE", f"{prefix}-audit"),
        max_account_tokens=_int(environ, "MAX_ACCOUNT_TOKENS", 100, 1, 10_000),
        max_project_tokens=_int(environ, "MAX_PROJECT_TOKENS", 100, 1, 10_000),
        last_used_interval_seconds=_int(environ, "LAST_USED_INTERVAL_SECONDS", 300, 1),
        max_token_lifetime_days=_int(environ, "MAX_TOKEN_LIFETIME_DAYS", 365, 1, 3650),
        authorizer_ttl_seconds=_int(environ, "AUTHORIZER_TTL_SECONDS", 0, 0, 3600),
        audit_retention_days=_int(environ, "AUDIT_RETENTION_DAYS", 90, 1, 3650),
        aws_max_attempts=_int(environ, "AWS_MAX_ATTEMPTS", 3, 1, 10),
        aws_connect_timeout_seconds=_float(environ, "AWS_CONNECT_TIMEOUT_SECONDS", 1.0),
        aws_read_timeout_seconds=_float(environ, "AWS_READ_TIMEOUT_SECONDS", 2.0),
        uploads_prefix=environ.get("UPLOADS_PREFIX", "uploads/"),
        max_upload_bytes=_int(environ, "MAX_UPLOAD_BYTES", 6_000_000, 1, 6_000_000),
        max_analysis_results=_int(environ, "MAX_ANALYSIS_RESULTS", 50_000, 1),
        max_coverage_bytes_per_commit=_int(environ, "MAX_COVERAGE_BYTES_PER_COMMIT", 64 * 1024 * 1024, 1),
        max_coverage_reports_per_commit=_int(environ, "MAX_COVERAGE_REPORTS_PER_COMMIT", 200, 1, 1000),
        max_coverage_files_per_commit=_int(environ, "MAX_COVERAGE_FILES_PER_COMMIT", 100_000, 1, 1_000_000),
        max_coverage_lines_per_commit=_int(environ, "MAX_COVERAGE_LINES_PER_COMMIT", 20_000_000, 1,
                                           200_000_000),
        max_analysis_results_per_commit=_int(environ, "MAX_ANALYSIS_RESULTS_PER_COMMIT", 1_000_000, 1),
        max_analysis_files_per_commit=_int(environ, "MAX_ANALYSIS_FILES_PER_COMMIT", 100_000, 1, 1_000_000),
        max_analysis_bytes_per_commit=_int(environ, "MAX_ANALYSIS_BYTES_PER_COMMIT", 256 * 1024 * 1024, 1),
        max_analysis_names_per_commit=_int(environ, "MAX_ANALYSIS_NAMES_PER_COMMIT", 50, 1, 50),
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return from_environ(os.environ)
