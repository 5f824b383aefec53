"""Uploads from CI: who may upload where, what is stored, what is shown.

Two ways to name the repository, kept apart on purpose:

- project-token paths (`/2.0/coverage/...`, `/2.0/commit/...`): the token
  names its repository; an account token there is refused (403);
- account-token paths (`/2.0/{provider}/{org}/{repo}/...`): the path names
  it and the account needs `write` on it, judged live; a project token
  there is refused (403), even for its own repository, so a misconfigured
  CI job learns which variables it mixed up instead of uploading somewhere
  it did not mean to.

Reading back (API v3) takes `read` for an account token, or the
repository's own project token.
"""
import copy
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from chalicelib import analysis_config
from chalicelib.access import Action, Principal
from chalicelib.clock import iso, utcnow
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from chalicelib.models.uploads import (
    ANALYSIS,
    BATCH,
    COVERAGE,
    UploadItem,
    batch_sk,
    commit_sk,
    repository_key,
)
from chalicelib.payloads import analysis, checks, coverage, readback
from chalicelib.repository_ref import RepositoryRef
from chalicelib.services.audit import AuditService
from chalicelib.services.directory import DirectoryService
from chalicelib.settings import Settings
from chalicelib.store.pagination import Page, decode_cursor, encode_cursor
from chalicelib.store.uploads import UploadStore, object_key
from chalicelib.token_format import Kind

PROJECT_PATH_NEEDS_PROJECT_TOKEN = (  # an error message, not a secret  # nosec B105
    "this path takes a project token (project-token header); with an account token "
    "use /2.0/{provider}/{organization}/{repository}/..."
)
ACCOUNT_PATH_NEEDS_ACCOUNT_TOKEN = (  # an error message, not a secret  # nosec B105
    "this path names a repository and takes an account token (api-token header); "
    "with a project token use /2.0/coverage/... or /2.0/commit/..."
)
# Writers of one commit that read the same version: each loser reads again
# and redoes its change on top of the winner's, this many times at most.
WRITE_ATTEMPTS = 8
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class Target:
    """Where an upload goes: the repository, as the directory resolved it
    (its id is what everything is keyed by), and the commit."""

    repository: RepositoryRef
    commit: str

    @property
    def repository_id(self) -> int:
        return resolved_id(self.repository)


@dataclass(frozen=True)
class CoverageTotals:
    """Files, covered and coverable lines, and the covered share in percent (None if nothing is coverable)."""

    files: int
    covered: int
    coverable: int
    percentage: float | None


@dataclass(frozen=True)
class ReceivedReport:
    """One coverage report a commit holds (a complete one replaced its language's earlier ones)."""

    language: str
    partial: bool
    received_at: str  # ISO 8601 (clock.iso), as stored
    files: int
    covered: int
    coverable: int
    bytes: int


@dataclass(frozen=True)
class CommitCoverage:
    """A commit's coverage read back, with one page of its files' rows."""

    commit: str
    final: bool  # closed by coverageFinal, or every report is complete
    finalized_at: datetime | None
    total: CoverageTotals
    reports: tuple[ReceivedReport, ...]
    files: Page[dict]  # rows {"filename", "covered", "coverable", "percentage"}, by file name


@dataclass(frozen=True)
class AnalysisUploads:
    """What a commit's analysis results came in: batches per kind, results and bytes in all."""

    issues: int
    metrics: int
    duplication: int
    results: int
    bytes: int
    last_received_at: str | None  # ISO 8601 (clock.iso), as stored


@dataclass(frozen=True)
class CommitAnalysis:
    """A commit's analysis results read back, with one page of its issues by file."""

    commit: str
    final_at: datetime | None  # closed by resultsFinal
    state: dict  # the commit's folded state: `payloads.analysis.render` shows it
    uploads: AnalysisUploads
    files: Page[dict]  # rows {"filename", "issues", "fileErrors", "byLevel"}, by file name

    @property
    def final(self) -> bool:
        return self.final_at is not None


def resolved_id(repository: RepositoryRef) -> int:
    """The id of a repository the directory resolved (`RepositoryRef.of` sets it)."""
    if repository.id is None:  # a name only: nothing is known of it
        raise NotFound()
    return repository.id


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def too_large(bound: str, limit: int, commit: str, what: str) -> PayloadTooLarge:
    """A per-commit bound passed: the error names the bound (its setting) and its value."""
    return PayloadTooLarge(f"body: commit {commit} would pass {limit} {what} ({bound}); nothing was stored",
                           field="body")


def _check_names_length(files) -> None:
    name = readback.long_name(files)
    if name is not None:
        raise BadRequest(f"filename: at most {readback.MAX_FILENAME_CHARS} characters, got {len(name)} "
                         f"({name[:40]!r}...)", field="filename")


def row_cursor(cursor: str | None) -> int:
    """The row a page cursor of a read-back starts at."""
    key = decode_cursor(cursor)
    if key is None:
        return 0
    value = key.get("row", {}).get("N") if set(key) == {"row"} else None
    if value is None or not value.isdigit():
        raise BadRequest("cursor: not a cursor returned by this API", field="cursor")
    return int(value)


def _backoff(attempt: int) -> None:
    time.sleep(secrets.randbelow(20 * (attempt + 1)) / 1000)  # nosec B311 - jitter, not a secret


def _empty_coverage() -> dict:
    return {"reports": [], "languages": {}, "bytes": 0, "lineSpan": 0,
            "total": coverage.totals({}), "rows": {"key": None, "offsets": [0], "count": 0}}


def _empty_analysis() -> dict:
    return {"state": analysis.empty_state(), "uploads": {"issues": 0, "metrics": 0, "duplication": 0},
            "results": 0, "bytes": 0, "rows": {"key": None, "offsets": [0], "count": 0}}


class UploadService:
    def __init__(self, directory: DirectoryService, store: UploadStore, audit: AuditService, settings: Settings,
                 clock=utcnow):
        self.directory = directory
        self.store = store
        self.audit = audit
        self.settings = settings
        self.clock = clock

    # -- access ------------------------------------------------------------

    def repository(self, principal: Principal, path: RepositoryRef | None, action: Action) -> RepositoryRef:
        """The repository an upload or read-back acts on, checked live: its
        name resolves to its id here, in the read the check makes anyway.

        `path` is what an account-token path names, or None on a
        project-token path (the token names it).
        """
        if path is None:
            if principal.kind is not Kind.PROJECT or principal.repository is None:
                raise Forbidden(PROJECT_PATH_NEEDS_PROJECT_TOKEN)
            path = principal.repository
        elif principal.kind is not Kind.ACCOUNT:
            raise Forbidden(ACCOUNT_PATH_NEEDS_ACCOUNT_TOKEN)
        return self._resolve(principal, path, action)

    def _resolve(self, principal: Principal, repository: RepositoryRef, action: Action) -> RepositoryRef:
        """`repository` with its id, if `principal` may do `action` on it (the directory's check)."""
        return RepositoryRef.of(self.directory.repository(principal, repository, action).repository)

    def _target(self, principal, path: RepositoryRef | None, commit: str, action: Action = Action.UPLOAD) -> Target:
        commit = checks.commit_id(commit)
        return Target(self.repository(principal, path, action), commit)

    def repository_for_read(self, principal, repository: RepositoryRef, commit) -> Target:
        """Read-back: an account with `read`, or the repository's project token."""
        commit = checks.commit_id(commit)
        return Target(self._resolve(principal, repository, Action.READ), commit)

    # -- coverage ----------------------------------------------------------

    def upload_coverage(self, principal, path: RepositoryRef | None, commit: str, language: str, partial: bool,
                        body, raw: bytes) -> str:
        """Store one coverage report of one language, merged into the commit's
        read-back as it arrives.

        A complete report (not partial) replaces every earlier report of its
        language for the commit; a partial one is added to them and reopens
        a commit that `coverageFinal` had closed.
        """
        language = checks.language_name(language)
        target = self._target(principal, path, commit)
        files = coverage.report(body)
        self._check_report(target, files)
        state = coverage.bitsets(files)
        totals = coverage.totals(state)
        del files
        sha = digest(raw)
        kind = "partial" if partial else "complete"
        message = f"Coverage report ({language}, {kind}) received for commit {target.commit}"
        raw_key = object_key(target.repository_id, target.commit, COVERAGE, language, f"{sha}.json")
        stored = False
        for attempt in range(WRITE_ATTEMPTS):
            head = self.store.readback(target.repository_id, commit_sk(target.commit, COVERAGE))
            summary = head.summary if head else _empty_coverage()
            if partial and any(r["digest"] == sha and r["language"] == language and r["partial"]
                               for r in summary["reports"]):
                return message  # a retry of a report already merged
            kept = [r for r in summary["reports"] if partial or r["language"] != language]
            self._check_kept(target, kept, len(raw))
            previous = summary["languages"].get(language)
            language_state = dict(state)
            if partial and previous:
                coverage.merge(language_state, coverage.decode(self.store.get_object(previous)))
            merged: coverage.State = dict(language_state)
            for other, key in summary["languages"].items():
                if other != language:
                    coverage.merge(merged, coverage.decode(self.store.get_object(key)))
            self._check_merged(target, merged)
            if not stored:  # within every bound: from here on, things are stored
                self.store.put_object(raw_key, raw)
                stored = True
            version = int(head.version) + 1 if head else 1
            suffix = f"{version}-{secrets.token_hex(4)}"
            state_key = object_key(target.repository_id, target.commit, COVERAGE, "state", suffix, language)
            rows, offsets, count = readback.rows_object(coverage.rows(merged))
            rows_key = object_key(target.repository_id, target.commit, COVERAGE, "rows", f"{suffix}.jsonl")
            self.store.put_object(state_key, coverage.encode(language_state))
            self.store.put_object(rows_key, rows)
            now = self.clock()
            report = {"language": language, "partial": partial, "digest": sha, "receivedAt": iso(now),
                      **{name: totals[name] for name in ("files", "covered", "coverable")}, "bytes": len(raw)}
            new_summary = {
                "reports": [*kept, report],
                "languages": {**summary["languages"], language: state_key},
                "bytes": sum(r["bytes"] for r in kept) + len(raw),
                "lineSpan": coverage.line_span(merged),
                "total": coverage.totals(merged),
                "rows": {"key": rows_key, "offsets": offsets, "count": count},
            }
            item = UploadItem(
                repository_key(target.repository_id), commit_sk(target.commit, COVERAGE), kind=COVERAGE,
                received_at=now, version=version, summary=new_summary,
                # A partial report reopens a final commit; a complete one does not.
                final_at=None if partial or head is None else head.final_at,
            )
            if self.store.put_readback(item, int(head.version) if head else None):
                self.store.delete_objects([previous, summary["rows"]["key"]])
                return message
            self.store.delete_objects([state_key, rows_key])
            _backoff(attempt)
        raise Conflict(f"coverage of commit {target.commit} is being changed by other uploads; retry")

    def _check_report(self, target: Target, files) -> None:
        settings = self.settings
        _check_names_length(files)
        if len(files) > settings.max_coverage_files_per_commit:
            raise too_large("MAX_COVERAGE_FILES_PER_COMMIT", settings.max_coverage_files_per_commit,
                            target.commit, "files of coverage")
        if coverage.line_span(files) > settings.max_coverage_lines_per_commit:
            raise too_large("MAX_COVERAGE_LINES_PER_COMMIT", settings.max_coverage_lines_per_commit,
                            target.commit, "lines of coverage (the sum of each file's highest line)")

    def _check_kept(self, target: Target, kept: list[dict], size: int) -> None:
        settings = self.settings
        if sum(r["bytes"] for r in kept) + size > settings.max_coverage_bytes_per_commit:
            raise PayloadTooLarge(
                f"body: the coverage reports of commit {target.commit} would pass "
                f"{settings.max_coverage_bytes_per_commit} bytes in all (MAX_COVERAGE_BYTES_PER_COMMIT); "
                "send a complete report (without partial=true) to replace a language's reports",
                field="body",
            )
        if len(kept) + 1 > settings.max_coverage_reports_per_commit:
            raise too_large("MAX_COVERAGE_REPORTS_PER_COMMIT", settings.max_coverage_reports_per_commit,
                            target.commit, "coverage reports")

    def _check_merged(self, target: Target, merged: coverage.State) -> None:
        self._check_report(target, merged)

    def finish_coverage(self, principal, path: RepositoryRef | None, commit: str) -> str:
        """`coverageFinal`: close the commit (what arrived is merged already)."""
        target = self._target(principal, path, commit)
        self._finish(target, COVERAGE, _empty_coverage)
        return f"Coverage of commit {target.commit} is final"

    def _finish(self, target: Target, kind: str, empty) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            head = self.store.readback(target.repository_id, commit_sk(target.commit, kind))
            now = self.clock()
            item = UploadItem(
                repository_key(target.repository_id), commit_sk(target.commit, kind), kind=kind,
                received_at=head.received_at if head else now, version=int(head.version) + 1 if head else 1,
                summary=head.summary if head else empty(), final_at=now,
            )
            if self.store.put_readback(item, int(head.version) if head else None):
                return
            _backoff(attempt)
        raise Conflict(f"commit {target.commit} is being changed by other uploads; retry")

    # -- analysis ----------------------------------------------------------

    def upload_analysis(self, principal, path: RepositoryRef | None, commit: str, kind: str, body, raw: bytes) -> str:
        """Store one batch of issues, metrics or duplication results, merged
        into the commit's read-back as it arrives, within the commit's bounds."""
        target = self._target(principal, path, commit)
        payload = analysis.FORMATS[kind]
        summary = payload.validate(body, self.settings.max_analysis_results)
        files = payload.files(body)
        _check_names_length(files)
        message = f"{summary['results']} {kind} results received for commit {target.commit}"
        sha = digest(raw)
        raw_key = object_key(target.repository_id, target.commit, "analysis", kind, f"{sha}.json")
        stored = False
        for attempt in range(WRITE_ATTEMPTS):
            head = self.store.readback(target.repository_id, commit_sk(target.commit, ANALYSIS))
            current = head.summary if head else _empty_analysis()
            self._check_analysis(target, current, summary, len(raw))
            state = copy.deepcopy(current["state"])
            payload.fold(state, summary)
            self._check_names(target, state)
            rows_ref, new_rows_key = current["rows"], None
            if files:
                old = self.store.get_object(rows_ref["key"]) if rows_ref["key"] else b""
                merged_rows = analysis.merge_file_rows(readback.read_rows(old), files)
                if len(merged_rows) > self.settings.max_analysis_files_per_commit:
                    raise too_large("MAX_ANALYSIS_FILES_PER_COMMIT", self.settings.max_analysis_files_per_commit,
                                    target.commit, "files with issues")
                rows, offsets, count = readback.rows_object(merged_rows)
                version_hint = f"{int(head.version) + 1 if head else 1}-{secrets.token_hex(4)}"
                new_rows_key = object_key(target.repository_id, target.commit, "analysis", "rows",
                                          f"{version_hint}.jsonl")
            if not stored:
                self.store.put_object(raw_key, raw)
                stored = True
            if new_rows_key:
                self.store.put_object(new_rows_key, rows)
                rows_ref = {"key": new_rows_key, "offsets": offsets, "count": count}
            now = self.clock()
            uploads = dict(current["uploads"])
            uploads[kind] = uploads.get(kind, 0) + 1
            item = UploadItem(
                repository_key(target.repository_id), commit_sk(target.commit, ANALYSIS), kind=ANALYSIS,
                received_at=now, version=int(head.version) + 1 if head else 1,
                final_at=head.final_at if head else None,
                summary={"state": state, "uploads": uploads, "results": current["results"] + summary["results"],
                         "bytes": current["bytes"] + len(raw), "rows": rows_ref, "lastReceivedAt": iso(now)},
            )
            marker = UploadItem(repository_key(target.repository_id), batch_sk(target.commit, kind, sha),
                                kind=BATCH, received_at=now)
            if self.store.put_readback(item, int(head.version) if head else None, marker):
                if new_rows_key:
                    self.store.delete_objects([current["rows"]["key"]])
                return message
            self.store.delete_objects([new_rows_key])
            if self.store.exists(target.repository_id, marker.sk):
                return message  # a retry of a batch already counted
            _backoff(attempt)
        raise Conflict(f"analysis of commit {target.commit} is being changed by other uploads; retry")

    def _check_analysis(self, target: Target, current: dict, summary: dict, size: int) -> None:
        settings = self.settings
        if current["results"] + summary["results"] > settings.max_analysis_results_per_commit:
            raise too_large("MAX_ANALYSIS_RESULTS_PER_COMMIT", settings.max_analysis_results_per_commit,
                            target.commit, "analysis results")
        if current["bytes"] + size > settings.max_analysis_bytes_per_commit:
            raise too_large("MAX_ANALYSIS_BYTES_PER_COMMIT", settings.max_analysis_bytes_per_commit,
                            target.commit, "bytes of analysis results")

    def _check_names(self, target: Target, state: dict) -> None:
        names = analysis.names(state)
        limit = self.settings.max_analysis_names_per_commit
        for what in ("tools", "languages"):
            if names[what] > limit:
                raise too_large("MAX_ANALYSIS_NAMES_PER_COMMIT", limit, target.commit, f"distinct {what}")
        if names["levels"] > analysis.MAX_LEVELS:
            raise too_large("MAX_LEVELS", analysis.MAX_LEVELS, target.commit, "distinct issue levels of one tool")
        if names["all levels"] > analysis.MAX_LEVELS_PER_COMMIT:
            raise too_large("MAX_LEVELS_PER_COMMIT", analysis.MAX_LEVELS_PER_COMMIT, target.commit,
                            "distinct issue levels")

    def finish_results(self, principal, path: RepositoryRef | None, commit: str) -> str:
        target = self._target(principal, path, commit)
        self._finish(target, ANALYSIS, _empty_analysis)
        return f"Analysis results of commit {target.commit} are final"

    def configuration(self, principal, path: RepositoryRef | None, any_token: bool = False) -> dict:
        """The repository's analysis configuration, in the shape the analysis
        CLI decodes (`chalicelib.analysis_config`; empty until one is set).

        Reading it is a read (`read` or more): it is no secret, and a reader
        can already see the analysis it shapes. `any_token`: the v3 read,
        where the path names the repository for either kind of token (as the
        read-backs), not the v2 paths that tell the kinds apart.
        """
        if any_token and path is not None:
            repository = self._resolve(principal, path, Action.READ)
        else:
            repository = self.repository(principal, path, Action.READ)
        return analysis_config.answer(self.store.configuration(resolved_id(repository)))

    def set_configuration(self, principal: Principal | None, repository: RepositoryRef, body, meta=None) -> dict:
        """Replace the repository's analysis configuration (validated), on
        record in the audit trail. A repository admin's (or organization
        admin's) account token; `principal` None is the operator (manage.py).
        """
        if principal is None:
            item = self.directory.store.repository(repository)
            if item is None:
                raise NotFound()
            repository = RepositoryRef.of(item)
        elif principal.kind is Kind.PROJECT:
            self._resolve(principal, repository, Action.READ)  # 404 if not its own
            raise Forbidden("setting the analysis configuration needs an account API token (api-token header) "
                            "of a repository admin")
        else:
            repository = self._resolve(principal, repository, Action.MANAGE_TOKENS)
        configuration = analysis_config.validate(body)
        repository_id = resolved_id(repository)
        events = self.audit.configuration_items(repository_id, repository.full_name, principal=principal, meta=meta)
        self.store.save_configuration(repository_id, configuration, self.clock(), events)
        return analysis_config.answer(configuration)

    # -- reading back ------------------------------------------------------

    def coverage(self, principal, repository: RepositoryRef, commit, *, limit: int = DEFAULT_PAGE,
                 cursor: str | None = None) -> CommitCoverage:
        """The commit's coverage with one page of files: one GetItem and at
        most one ranged S3 read, whatever was uploaded."""
        target = self.repository_for_read(principal, repository, commit)
        start = row_cursor(cursor)
        head, files = self._page(target, COVERAGE, start, limit)
        summary = head.summary if head else _empty_coverage()
        reports = tuple(ReceivedReport(r["language"], r["partial"], r["receivedAt"], r["files"], r["covered"],
                                       r["coverable"], r["bytes"]) for r in summary["reports"])
        complete = bool(reports) and not any(r.partial for r in reports)
        final_at = head.final_at if head else None
        return CommitCoverage(
            commit=target.commit,
            final=final_at is not None or complete,
            finalized_at=final_at,
            total=CoverageTotals(**summary["total"]),
            reports=reports,
            files=self._page_of(files, summary["rows"]["count"], start, limit),
        )

    def analysis(self, principal, repository: RepositoryRef, commit, *, limit: int = DEFAULT_PAGE,
                 cursor: str | None = None) -> CommitAnalysis:
        """The commit's analysis summary with one page of issues by file: one
        GetItem and at most one ranged S3 read."""
        target = self.repository_for_read(principal, repository, commit)
        start = row_cursor(cursor)
        head, files = self._page(target, ANALYSIS, start, limit)
        summary = head.summary if head else _empty_analysis()
        batches = summary["uploads"]
        return CommitAnalysis(
            commit=target.commit,
            final_at=head.final_at if head else None,
            state=summary["state"],
            uploads=AnalysisUploads(batches["issues"], batches["metrics"], batches["duplication"],
                                    summary["results"], summary["bytes"], summary.get("lastReceivedAt")),
            files=self._page_of(files, summary["rows"]["count"], start, limit),
        )

    def _page(self, target: Target, kind: str, start: int, limit: int):
        """The read-back item and rows start..start+limit-1 of its file rows."""
        for _ in range(3):
            head = self.store.readback(target.repository_id, commit_sk(target.commit, kind))
            rows: dict = head.summary["rows"] if head else {}
            span = readback.page_range(rows["offsets"], rows["count"], start, limit) if rows else None
            if span is None:
                return head, []
            first, last, skip = span
            raw = self.store.get_range(rows["key"], first, last)
            if raw is not None:
                return head, readback.page_rows(raw, skip, limit)
            # A newer version replaced these rows since the item was read.
        raise Conflict(f"commit {target.commit} is being changed by other uploads; retry")

    @staticmethod
    def _page_of(rows: list[dict], total: int, start: int, limit: int) -> Page[dict]:
        """Rows start..start+limit-1 of `total`, with the next page's cursor if there is one."""
        cursor = encode_cursor({"row": {"N": str(start + limit)}}) if start + limit < total else None
        return Page(rows, cursor, limit, total)
