"""Every setting, read from the environment once.

Stage variables in `.chalice/config.json` become environment variables of the
Lambda functions; `make run`, `manage.py` and the tests set the same names.
A bad value fails at import with a message naming the variable, not later
inside a request.
"""
import functools
import json
import os
from dataclasses import dataclass

from chalicelib.stage_names import stage_names


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
    # The sweeper (issue 16): revoke tokens unused for this many days (0:
    # never, the default); send expiry notices from this address through
    # Amazon SES (unset: notices are only logged).
    stale_token_days: int = 0
    notify_from: str | None = None
    # Operations (chalicelib.telemetry, infra.operations): the level of the
    # functions' logs; the rest shapes the stage's template only.
    resource_prefix: str = stage_names().prefix
    log_level: str = "INFO"
    log_retention_days: int = 30
    api_tracing: bool = True
    authorizer_tracing: bool = False
    throttle_rate_limit: int = 100
    throttle_burst_limit: int = 200
    waf_rate_limit: int = 0
    alarm_topic_arn: str = ""
    # The stage's name (LATCHKEY_STAGE): only `dev` may trust plain-HTTP issuers.
    stage: str = ""
    # Keyless CI (docs/keyless-ci.md): trusted OIDC issuers by name, and how
    # long a token minted from an identity token lives.
    ci_oidc_issuers: tuple["CiIssuer", ...] = ()
    oidc_token_lifetime_seconds: int = 900
    max_trusted_publishers: int = 20
    # Leaked tokens (docs/secret-scanning.md).
    github_secret_scanning_keys_url: str = "https://api.github.com/meta/public_keys/secret_scanning"
    revoke_requests_per_minute: int = 10
    # The web console (chalicelib.api.console): its OpenID Connect issuer
    # and client, and the limits of a signed-in session.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    # The console's public URL (https://host[/stage]); derived from each
    # request's Host header when unset.
    console_url: str | None = None

    def ci_issuer(self, name: str) -> "CiIssuer | None":
        return next((issuer for issuer in self.ci_oidc_issuers if issuer.name == name), None)


@dataclass(frozen=True)
class CiIssuer:
    """A CI system whose OIDC identity tokens may be exchanged for project tokens."""

    name: str  # what trusted publishers name ("github", "gitlab", ...)
    kind: str  # "github" or "gitlab": which claims identify the repository
    issuer: str  # the exact `iss`
    audience: str  # the exact `aud`


CI_KINDS = ("github", "gitlab")
DEFAULT_CI_OIDC_ISSUERS = {
    "github": {"issuer": "https://token.actions.githubusercontent.com", "audience": "latchkey"},
    "gitlab": {"issuer": "https://gitlab.com", "audience": "latchkey"},
}


def _ci_issuers(environ, stage: str) -> tuple[CiIssuer, ...]:
    """The defaults, overridden or extended by CI_OIDC_ISSUERS (a JSON object
    of name -> {"issuer", "audience"?, "kind"?}; `null` removes a default)."""
    name = "CI_OIDC_ISSUERS"
    raw = environ.get(name) or "{}"
    try:
        configured = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a JSON object, got {raw!r}") from None
    if not isinstance(configured, dict):
        raise SettingsError(f"{name} must be a JSON object of name -> {{issuer, audience}}")
    merged = {**DEFAULT_CI_OIDC_ISSUERS, **configured}
    issuers = []
    for issuer_name, entry in merged.items():
        if entry is None:
            continue
        where = f"{name}: {issuer_name!r}"
        if not isinstance(entry, dict) or set(entry) - {"issuer", "audience", "kind"}:
            raise SettingsError(f"{where} must be an object with issuer, audience and optionally kind")
        kind = entry.get("kind", issuer_name if issuer_name in CI_KINDS else None)
        if kind not in CI_KINDS:
            raise SettingsError(f"{where}: kind must be one of {', '.join(CI_KINDS)}")
        url = entry.get("issuer")
        audience = entry.get("audience", "latchkey")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 512:
            raise SettingsError(f"{where}: issuer must be an https:// URL")
        if url.startswith("http://") and stage != "dev":
            raise SettingsError(f"{where}: issuer must be https:// outside the dev stage")
        if not isinstance(audience, str) or not audience:
            raise SettingsError(f"{where}: audience must be a non-empty string")
        issuers.append(CiIssuer(issuer_name, kind, url, audience))
    return tuple(issuers)


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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# CloudWatch Logs accepts only these retention periods.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)


def _choice(environ, name, default, choices):
    raw = environ.get(name, str(default))
    value = raw.upper() if isinstance(default, str) else raw
    if isinstance(default, int):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(map(str, choices))}, got {raw!r}")
    return value


def _bool(environ, name, default):
    raw = environ.get(name, "true" if default else "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")
def _issuer(environ, stage: str) -> str | None:
    """OIDC_ISSUER: an https URL; plain http only for a provider on this very
    machine in the dev stage (`make run`'s development provider); never a
    provider on this machine for `prod`."""
    from urllib.parse import urlsplit

    raw = (environ.get("OIDC_ISSUER") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment:
        raise SettingsError(f"OIDC_ISSUER must be an https URL, got {raw!r}")
    if stage == "prod" and loopback:
        raise SettingsError(
            f"OIDC_ISSUER {raw!r} is a provider on this machine (the development provider); "
            "the prod stage needs the real issuer (Cognito or your company's)"
        )
    if parts.scheme == "http" and not (loopback and stage == "dev"):
        raise SettingsError(f"OIDC_ISSUER must be an https URL (http only on 127.0.0.1 in dev), got {raw!r}")
    return raw.rstrip("/")


def _url(environ, name, default):
    value = environ.get(name) or default
    if not value.startswith(("https://", "http://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    if value.startswith("http://") and environ.get("LATCHKEY_STAGE", "") != "dev":
        raise SettingsError(f"{name} must be https:// outside the dev stage")
    return value


def from_environ(environ) -> Settings:
    """Build settings from a mapping of environment variables."""
    prefix = environ.get("LATCHKEY_RESOURCE_PREFIX", stage_names().prefix)
    names = stage_names(prefix=prefix)
    return Settings(
        region=environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or "us-east-1",
        tokens_table=environ.get("TOKENS_TABLE", names.tokens_table),
        directory_table=environ.get("DIRECTORY_TABLE", names.directory_table),
        uploads_table=environ.get("UPLOADS_TABLE", names.uploads_table),
        uploads_bucket=environ.get("UPLOADS_BUCKET", names.uploads_bucket),
        audit_table=environ.get("AUDIT_TABLE", names.audit_table),
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
        stale_token_days=_int(environ, "STALE_TOKEN_DAYS", 0, 0, 3650),
        notify_from=environ.get("NOTIFY_FROM") or None,
        resource_prefix=prefix,
        log_level=_choice(environ, "LOG_LEVEL", "INFO", LOG_LEVELS),
        log_retention_days=_choice(environ, "LOG_RETENTION_DAYS", 30, RETENTION_DAYS),
        api_tracing=_bool(environ, "API_TRACING", True),
        authorizer_tracing=_bool(environ, "AUTHORIZER_TRACING", False),
        throttle_rate_limit=_int(environ, "THROTTLE_RATE_LIMIT", 100, 1, 10_000),
        throttle_burst_limit=_int(environ, "THROTTLE_BURST_LIMIT", 200, 1, 5_000),
        waf_rate_limit=_int(environ, "WAF_RATE_LIMIT", 0, 0, 2_000_000_000),
        alarm_topic_arn=environ.get("ALARM_TOPIC_ARN", ""),
        stage=environ.get("LATCHKEY_STAGE", ""),
        ci_oidc_issuers=_ci_issuers(environ, environ.get("LATCHKEY_STAGE", "")),
        oidc_token_lifetime_seconds=_int(environ, "OIDC_TOKEN_LIFETIME_SECONDS", 900, 60, 3600),
        max_trusted_publishers=_int(environ, "MAX_TRUSTED_PUBLISHERS", 20, 1, 1000),
        github_secret_scanning_keys_url=_url(environ, "GITHUB_SECRET_SCANNING_KEYS_URL",
                                             "https://api.github.com/meta/public_keys/secret_scanning"),
        revoke_requests_per_minute=_int(environ, "REVOKE_REQUESTS_PER_MINUTE", 10, 1, 100_000),
        oidc_issuer=_issuer(environ, environ.get("LATCHKEY_STAGE", "")),
        oidc_client_id=environ.get("OIDC_CLIENT_ID") or None,
        oidc_client_secret=environ.get("OIDC_CLIENT_SECRET") or None,
        session_idle_minutes=_int(environ, "SESSION_IDLE_MINUTES", 60, 1, 24 * 60),
        session_max_hours=_int(environ, "SESSION_MAX_HOURS", 12, 1, 24 * 30),
        console_url=(environ.get("CONSOLE_URL") or "").rstrip("/") or None,
    )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return from_environ(os.environ)
