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
import functools
import hashlib
import json
from dataclasses import dataclass

from chalicelib import analysis_config, reports
from chalicelib.access import Action, Principal
from chalicelib.clock import utcnow
from chalicelib.errors import Forbidden, NotFound, PayloadTooLarge
from chalicelib.models.uploads import (
    ANALYSIS_KINDS,
    COVERAGE,
    COVERAGE_FINAL,
    RESULTS_FINAL,
    UploadItem,
    commit_key,
    coverage_sk,
)
from chalicelib.services.directory import DirectoryService
from chalicelib.settings import get_settings
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
# Coverage reports fetched and parsed at once when merging (up to 10 MB each).
_MERGE_BATCH = 4


@dataclass(frozen=True)
class Target:
    """Where an upload goes: `repository` is "<provider>/<org>/<repo>"."""

    repository: str
    commit: str


def iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class UploadService:
    def __init__(self, directory: DirectoryService | None = None, store: UploadStore | None = None,
                 settings=None, clock=utcnow):
        self.settings = settings or get_settings()
        self.directory = directory or DirectoryService()
        self.store = store or UploadStore(self.settings)
        self.clock = clock

    # -- access ------------------------------------------------------------

    def repository(self, principal: Principal, repo_path: tuple[str, str, str] | None, action: Action) -> str:
        """The repository an upload or read-back acts on, checked live.

        `repo_path` is (provider, org, repo) from an account-token path, or
        None on a project-token path.
        """
        if repo_path is None:
            if principal.kind is not Kind.PROJECT or principal.repository is None:
                raise Forbidden(PROJECT_PATH_NEEDS_PROJECT_TOKEN)
            provider, org, repo = principal.repository.split("/", 2)
        else:
            if principal.kind is not Kind.ACCOUNT:
                raise Forbidden(ACCOUNT_PATH_NEEDS_ACCOUNT_TOKEN)
            provider, org, repo = repo_path
        self.directory.repository(principal, provider, org, repo, action)
        return f"{provider}/{org}/{repo}"

    def _target(self, principal, repo_path, commit: str) -> Target:
        commit = reports.commit_id(commit)
        return Target(self.repository(principal, repo_path, Action.UPLOAD), commit)

    # -- uploads -----------------------------------------------------------

    def upload_coverage(self, principal, repo_path, commit: str, language: str, partial: bool,
                        body, raw: bytes) -> str:
        """Store one coverage report of one language.

        A complete report (not partial) replaces every earlier report of its
        language for the commit; a partial one is added to them and reopens
        a commit that `coverageFinal` had closed.
        """
        language = reports.language_name(language)
        target = self._target(principal, repo_path, commit)
        files = reports.coverage_report(body)
        sha = digest(raw)
        key = object_key(target.repository, target.commit, COVERAGE, language, f"{sha}.json")
        self.store.put_object(key, raw)
        item = UploadItem(
            commit_key(target.repository, target.commit),
            coverage_sk(language, sha),
            kind=COVERAGE,
            received_at=self.clock(),
            language=language,
            partial=partial,
            object_key=key,
            size=len(raw),
            summary=reports.coverage_totals(files),
        )
        earlier = [old for old in self.store.commit_items(target.repository, target.commit)
                   if old.kind == COVERAGE and old.sk != item.sk]
        # A complete report replaces its language's reports (compared by
        # language, not by key prefix: a language name may contain "#").
        replaced = [] if partial else [old for old in earlier if old.language == language]
        kept = sum(int(old.size or 0) for old in earlier if old not in replaced)
        limit = self.settings.max_coverage_bytes_per_commit
        if kept + len(raw) > limit:
            raise PayloadTooLarge(
                f"body: the coverage reports of commit {target.commit} would pass {limit} bytes in all; "
                "send a complete report (without partial=true) to replace a language's reports"
            )
        self.store.save_coverage(item, replaced, reopen=partial)
        kind = "partial" if partial else "complete"
        return f"Coverage report ({language}, {kind}) received for commit {target.commit}"

    def finish_coverage(self, principal, repo_path, commit: str) -> str:
        """`coverageFinal`: merge what arrived and close the commit."""
        target = self._target(principal, repo_path, commit)
        merged = self._merged_coverage(self.store.commit_items(target.repository, target.commit))
        self.store.save(UploadItem(
            commit_key(target.repository, target.commit), COVERAGE_FINAL,
            kind=COVERAGE_FINAL, received_at=self.clock(), summary=reports.coverage_totals(merged),
        ))
        return f"Coverage of commit {target.commit} is final"

    def upload_analysis(self, principal, repo_path, commit: str, kind: str, body, raw: bytes) -> str:
        """Store one batch of issues, metrics or duplication results."""
        target = self._target(principal, repo_path, commit)
        summary = reports.ANALYSIS_VALIDATORS[kind](body, self.settings.max_analysis_results)
        sha = digest(raw)
        key = object_key(target.repository, target.commit, "analysis", kind, f"{sha}.json")
        self.store.put_object(key, raw)
        self.store.save(UploadItem(
            commit_key(target.repository, target.commit), f"{kind}#{sha}",
            kind=kind, received_at=self.clock(), object_key=key, size=len(raw), summary=summary,
        ))
        return f"{summary['results']} {kind} results received for commit {target.commit}"

    def finish_results(self, principal, repo_path, commit: str) -> str:
        target = self._target(principal, repo_path, commit)
        self.store.save(UploadItem(
            commit_key(target.repository, target.commit), RESULTS_FINAL,
            kind=RESULTS_FINAL, received_at=self.clock(),
        ))
        return f"Analysis results of commit {target.commit} are final"

    def configuration(self, principal, repo_path, any_token: bool = False) -> dict:
        """The repository's analysis configuration, in the shape the analysis
        CLI decodes (`chalicelib.analysis_config`; empty until one is set).

        Reading it is a read (`read` or more): it is no secret, and a reader
        can already see the analysis it shapes. `any_token`: the v3 read,
        where the path names the repository for either kind of token (as the
        read-backs), not the v2 paths that tell the kinds apart.
        """
        if any_token:
            repository = self.repository_for_read(principal, *repo_path)
        else:
            repository = self.repository(principal, repo_path, Action.READ)
        return analysis_config.answer(self.store.configuration(repository))

    def set_configuration(self, principal: Principal | None, provider: str, org: str, repo: str, body,
                          meta=None) -> dict:
        """Replace the repository's analysis configuration (validated), on
        record in the audit trail. A repository admin's (or organization
        admin's) account token; `principal` None is the operator (manage.py).
        """
        if principal is None:
            found = self.directory.store.repository(provider, org, repo)
            if found is None:
                raise NotFound()
        elif principal.kind is Kind.PROJECT:
            self.directory.repository(principal, provider, org, repo, Action.READ)  # 404 if not its own
            raise Forbidden("setting the analysis configuration needs an account API token (api-token header) "
                            "of a repository admin")
        else:
            self.directory.repository(principal, provider, org, repo, Action.MANAGE_TOKENS)
        configuration = analysis_config.validate(body)
        repository = f"{provider}/{org}/{repo}"
        events = self.audit.configuration_items(repository, principal=principal, meta=meta)
        self.store.save_configuration(repository, configuration, self.clock(), events)
        return analysis_config.answer(configuration)

    @functools.cached_property
    def audit(self):
        from chalicelib.services.audit import AuditService

        return AuditService(clock=self.clock)

    # -- reading back ------------------------------------------------------

    def coverage(self, principal, provider, org, repo, commit) -> dict:
        commit = reports.commit_id(commit)
        repository = self.repository_for_read(principal, provider, org, repo)
        items = self.store.commit_items(repository, commit)
        report_items = sorted((i for i in items if i.kind == COVERAGE), key=lambda i: (i.received_at, i.sk))
        final_item = next((i for i in items if i.kind == COVERAGE_FINAL), None)
        merged = self._merged_coverage(report_items)
        complete = bool(report_items) and not any(i.partial for i in report_items)
        return {
            "commit": commit,
            "final": final_item is not None or complete,
            "finalizedAt": iso(final_item.received_at) if final_item else None,
            "total": reports.coverage_totals(merged),
            "files": reports.file_coverage(merged),
            "reports": [
                {"language": i.language, "partial": bool(i.partial), "receivedAt": iso(i.received_at),
                 "files": i.summary["files"], "covered": i.summary["covered"],
                 "coverable": i.summary["coverable"], "bytes": int(i.size or 0)}
                for i in report_items
            ],
        }

    def analysis(self, principal, provider, org, repo, commit) -> dict:
        commit = reports.commit_id(commit)
        repository = self.repository_for_read(principal, provider, org, repo)
        items = self.store.commit_items(repository, commit)
        batches = sorted((i for i in items if i.kind in ANALYSIS_KINDS), key=lambda i: (i.received_at, i.sk))
        final_item = next((i for i in items if i.kind == RESULTS_FINAL), None)
        return {
            "commit": commit,
            "resultsFinal": final_item is not None,
            "resultsFinalAt": iso(final_item.received_at) if final_item else None,
            **reports.analysis_summary([(i.kind, i.summary) for i in batches]),
            "uploads": [
                {"kind": i.kind, "results": i.summary["results"], "receivedAt": iso(i.received_at),
                 "bytes": int(i.size or 0)}
                for i in batches
            ],
        }

    def repository_for_read(self, principal, provider, org, repo) -> str:
        """Read-back: an account with `read`, or the repository's project token."""
        self.directory.repository(principal, provider, org, repo, Action.READ)
        return f"{provider}/{org}/{repo}"

    def _merged_coverage(self, items) -> dict:
        """Every coverage report of a commit, merged as it is read: a few raw
        reports in memory at a time, never all of them."""
        keys = [i.object_key for i in items if i.kind == COVERAGE]
        merged: dict[str, dict[int, int]] = {}
        for start in range(0, len(keys), _MERGE_BATCH):
            for raw in self.store.get_objects(keys[start:start + _MERGE_BATCH]):
                reports.merge_into(merged, reports.coverage_report(json.loads(raw)))
        return merged
