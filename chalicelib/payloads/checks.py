"""The bodies CI uploads: validation and summaries, pure functions.

Shapes are those of Codacy's clients (`codacy-compat.md`, API v2). Each
validator walks the body once and returns what the service stores and
shows: a coverage report becomes its line hits per file; an analysis
batch becomes a small summary (counts per tool and level, failures...).
Every failure is a `BadRequest` naming the place that is wrong, e.g.
`fileReports[3].coverage["12"]: hit count must be a non-negative integer`.

Null means absent, at every level: the Scala analysis CLI serialises its
case classes with circe and prints them with nulls kept (`Json.toString`
in its `HttpHelper.post`), so an `Option` that is empty arrives as `null`
(`"category": null`, `"metrics": null`, `"complexity": null`). Optional
fields are read with `_optional`, and the one-key objects that stand for a
Scala sealed trait (`{"Success": ...}`, `{"Issue": ...}`,
`{"FullLocation": ...}`) are read without their null keys (`_variant`).

Hostile-input budget: one pass over at most `max_results` results, no
recursion, no regular expressions per line.
"""
import re
from typing import Any

from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.names import is_dot_segment

COMMIT = re.compile(r"[0-9a-fA-F]{40}")
DRIVE = re.compile(r"[A-Za-z]:")
MAX_LANGUAGE = 64
MAX_FILE_ERRORS_KEPT = 100
MAX_FAILURES_KEPT = 100
# A summary is one DynamoDB item (at most 400 KB): what it keeps is bounded.
MAX_NAME_CHARS = 100  # a tool, level or language name
MAX_KEPT_MESSAGE_CHARS = 500  # kept messages are cut to this
MAX_NAMES = 50  # distinct tools, or languages, in one batch
MAX_LEVELS = 10  # distinct issue levels of one tool


def _fail(where: str, what: str):
    raise BadRequest(f"{where}: {what}", field=where.split("[")[0].split(".")[0] or "body")


def commit_id(raw: str) -> str:
    """A 40-hex commit SHA, lower-cased."""
    if not isinstance(raw, str) or not COMMIT.fullmatch(raw):
        raise BadRequest("commit: must be a 40-character hexadecimal commit SHA", field="commit")
    return raw.lower()


def language_name(raw: str) -> str:
    """A language from the path: `%20` decoded (whether or not the gateway
    decoded it already), trimmed, lower case."""
    from urllib.parse import unquote

    name = unquote(raw or "").strip().lower()
    if not name:
        raise BadRequest("language: must not be empty", field="language")
    if len(name) > MAX_LANGUAGE or "/" in name or any(ord(c) < 32 for c in name):
        raise BadRequest(f"language: at most {MAX_LANGUAGE} printable characters, no '/'", field="language")
    if is_dot_segment(name):  # it becomes a part of the upload's S3 key
        raise BadRequest("language: must not be '.' or '..'", field="language")
    return name


def file_name(value, where: str) -> str:
    """A file name in repository-relative form, as stored and shown.

    Real clients do not always send that form (`codacy-compat.md`): the
    PyPI reporter sends `/src/a.py` when coverage.py's `<source>` is the git
    top level, Windows jobs send `src\\a.py`. So backslashes become `/` and
    one leading `/` or `./` is dropped; what is left must be plain
    segments: none empty, `.` or `..`, no drive letter, no NUL.
    """
    if not isinstance(value, str) or not value.strip():
        _fail(where, "must be a non-empty string")
    if "\x00" in value:
        _fail(where, "must not contain NUL")
    name = value.replace("\\", "/")
    if name.startswith("./"):
        name = name[2:]
    elif name.startswith("/"):
        name = name[1:]
    if not name.strip():
        _fail(where, f"must name a file, got {value!r}")
    segments = name.split("/")
    if ".." in segments:
        _fail(where, f"must not contain '..', got {value!r}")
    if "." in segments or "" in segments:
        _fail(where, f"must not have empty or '.' segments, got {value!r}")
    if DRIVE.match(name):
        _fail(where, f"must be relative to the repository, got {value!r}")
    return name


def _optional(entry: dict, *names: str, default=None):
    """An optional field: the first of `names` that is present and not null."""
    for name in names:
        value = entry.get(name)
        if value is not None:
            return value
    return default


def _variant(value, where: str) -> dict:
    """A one-key object standing for a case of a Scala sealed trait, null keys left out."""
    return {key: item for key, item in _object(value, where).items() if item is not None}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _non_negative(value, where: str, name: str = "value") -> int:
    if not _is_int(value) or value < 0:
        _fail(where, f"{name} must be a non-negative integer")
    return value


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        _fail(where, "must be a list")
    return value


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        _fail(where, "must be an object")
    return value


def _string(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        _fail(where, "must be a non-empty string")
    return value


def _name(value, where: str, known, limit: int) -> str:
    """A tool, level or language name: short, and one of at most `limit` distinct."""
    name = _string(value, where)
    if len(name) > MAX_NAME_CHARS:
        _fail(where, f"at most {MAX_NAME_CHARS} characters")
    if name not in known and len(known) >= limit:
        _fail(where, f"at most {limit} distinct values in one batch")
    return name


def _kept(message: str) -> str:
    return message[:MAX_KEPT_MESSAGE_CHARS]


def _keep_failure(summary: dict, entry: dict) -> None:
    if len(summary["failures"]) < MAX_FAILURES_KEPT:
        summary["failures"].append({**entry, "message": _kept(entry["message"])})


def _per_language(body, field: str, summary: dict, empty_totals: dict):
    """The `{"language", field: {"Success" | "Failure"}}` entries of a metrics
    or duplication batch: failures are kept in `summary`; yields (where,
    success, that language's totals) for the others."""
    for index, entry in enumerate(_list(body, "body")):
        where = f"[{index}]"
        entry = _object(entry, where)
        language = _name(entry.get("language"), f"{where}.language", summary["languages"], MAX_NAMES)
        success, failure = _outcome(entry.get(field), f"{where}.{field}")
        totals = summary["languages"].setdefault(language, dict(empty_totals))
        if failure is not None:
            _keep_failure(summary, {"language": language, "message": failure})
            continue
        yield where, success, totals


def _message(value, where: str) -> str:
    """A message: a string, or `{"text": string}` as Scala clients write it."""
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str):
        _fail(where, "must be a string or {\"text\": string}")
    return value


def _outcome(value, where: str):
    """`{"Success": {...}}` or `{"Failure": {"message": ...}}` → (success, failure message)."""
    value = _variant(value, where)
    if len(value) != 1 or not ({"Success", "Failure"} & set(value)):
        _fail(where, 'must be {"Success": {...}} or {"Failure": {"message": ...}}')
    if "Failure" in value:
        failure = _object(value["Failure"], f"{where}.Failure")
        return None, _message(failure.get("message"), f"{where}.Failure.message")
    return _object(value["Success"], f"{where}.Success"), None


class _Budget:
    """Counts results across one body against the per-request limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise PayloadTooLarge(f"body: at most {self.limit} results per request")


# -- coverage ------------------------------------------------------------------

def coverage_report(body) -> dict[str, dict[int, int]]:
    """`{"fileReports": [{"filename", "coverage": {"<line>": hits}}]}` →
    {filename: {line: hits}}. `total`, `codeLines` and `language` that older
    clients send are accepted and ignored (they are recomputed). A file
    listed twice has its hits added."""
    body = _object(body, "body")
    reports = _list(body.get("fileReports"), "fileReports")
    files: dict[str, dict[int, int]] = {}
    for index, entry in enumerate(reports):
        where = f"fileReports[{index}]"
        entry = _object(entry, where)
        name = file_name(entry.get("filename"), f"{where}.filename")
        coverage = _optional(entry, "coverage", default={})
        if not isinstance(coverage, dict):
            _fail(f"{where}.coverage", 'must be an object {"<line>": hits}')
        lines = files.setdefault(name, {})
        for line, hits in coverage.items():
            if not (line.isascii() and line.isdigit()) or len(line) > 9:
                _fail(f'{where}.coverage["{line[:20]}"]', "line must be a positive integer")
            if not _is_int(hits) or hits < 0:
                _fail(f'{where}.coverage["{line}"]', "hit count must be a non-negative integer")
            number = int(line)
            if number < 1:
                _fail(f'{where}.coverage["{line}"]', "line must be a positive integer")
            lines[number] = lines.get(number, 0) + hits
    return files


def percentage(covered: int, coverable: int) -> float | None:
    """Covered share in percent, 2 decimals; None when nothing is coverable."""
    return round(100.0 * covered / coverable, 2) if coverable else None


# -- analysis results ----------------------------------------------------------

def _location(value, where: str) -> None:
    value = _variant(value, where)
    if len(value) != 1:
        _fail(where, 'must be {"FullLocation": {"line", "column"}} or {"LineLocation": {"line"}}')
    if "FullLocation" in value:
        location = _object(value["FullLocation"], f"{where}.FullLocation")
        _positive(location.get("line"), f"{where}.FullLocation.line")
        _non_negative(location.get("column"), f"{where}.FullLocation.column", "column")
    elif "LineLocation" in value:
        location = _object(value["LineLocation"], f"{where}.LineLocation")
        _positive(location.get("line"), f"{where}.LineLocation.line")
    else:
        _fail(where, 'must be {"FullLocation": {"line", "column"}} or {"LineLocation": {"line"}}')


def _positive(value, where: str) -> int:
    if not _is_int(value) or value < 1:
        _fail(where, "must be a positive integer")
    return value


def _file_error(value, where: str, tool: str, summary: dict) -> None:
    error = _object(value, where)
    name = file_name(error.get("filename"), f"{where}.filename")
    # The plugins' own FileError has `message: Option[ErrorMessage]`.
    raw_message = error.get("message")
    message = "" if raw_message is None else _message(raw_message, f"{where}.message")
    tool_summary = summary["tools"][tool]
    tool_summary["fileErrors"] += 1
    if len(summary["fileErrors"]) < MAX_FILE_ERRORS_KEPT:
        summary["fileErrors"].append({"tool": tool, "filename": name, "message": _kept(message)})


def _issue(value, where: str, tool: str, summary: dict) -> None:
    issue = _object(value, where)
    pattern = _object(issue.get("patternId"), f"{where}.patternId")
    _string(pattern.get("value"), f"{where}.patternId.value")
    file_name(issue.get("filename"), f"{where}.filename")
    _message(issue.get("message"), f"{where}.message")
    levels = summary["tools"][tool]["byLevel"]
    level = _name(issue.get("level"), f"{where}.level", levels, MAX_LEVELS)
    if _optional(issue, "category") is not None and not isinstance(issue["category"], str):
        _fail(f"{where}.category", "must be a string")
    _location(issue.get("location"), f"{where}.location")
    levels[level] = levels.get(level, 0) + 1
    summary["tools"][tool]["issues"] += 1


def issues_results(body, max_results: int) -> dict:
    """An `issuesRemoteResults` batch → summary: issues per tool and level,
    file errors (the first ones kept, all counted), tool failures."""
    budget = _Budget(max_results)
    summary: dict[str, Any] = {"tools": {}, "fileErrors": [], "failures": [], "results": 0}
    for index, entry in enumerate(_list(body, "body")):
        where = f"[{index}]"
        entry = _object(entry, where)
        tool = _name(entry.get("tool"), f"{where}.tool", summary["tools"], MAX_NAMES)
        summary["tools"].setdefault(tool, {"issues": 0, "byLevel": {}, "fileErrors": 0})
        success, failure = _outcome(entry.get("issues"), f"{where}.issues")
        if failure is not None:
            _keep_failure(summary, {"tool": tool, "message": failure})
            continue
        files = _list(success.get("results"), f"{where}.issues.Success.results")
        for file_index, file_entry in enumerate(files):
            file_where = f"{where}.issues.Success.results[{file_index}]"
            file_entry = _variant(file_entry, file_where)
            if "FileError" in file_entry:
                budget.take(1)
                _file_error(file_entry["FileError"], f"{file_where}.FileError", tool, summary)
                continue
            file_name(file_entry.get("filename"), f"{file_where}.filename")
            results = _list(file_entry.get("results"), f"{file_where}.results")
            budget.take(len(results))
            for result_index, result in enumerate(results):
                result_where = f"{file_where}.results[{result_index}]"
                result = _variant(result, result_where)
                if len(result) != 1:
                    _fail(result_where, 'must be {"Issue": {...}} or {"FileError": {...}}')
                if "Issue" in result:
                    _issue(result["Issue"], f"{result_where}.Issue", tool, summary)
                elif "FileError" in result:
                    _file_error(result["FileError"], f"{result_where}.FileError", tool, summary)
                else:
                    _fail(result_where, 'must be {"Issue": {...}} or {"FileError": {...}}')
    summary["results"] = budget.used
    return summary


METRIC_FIELDS = ("complexity", "loc", "cloc", "nrMethods", "nrClasses")


def metrics_results(body, max_results: int) -> dict:
    """A `metricsRemoteResults` batch → per-language sums of the metrics."""
    budget = _Budget(max_results)
    summary: dict[str, Any] = {"languages": {}, "failures": [], "results": 0}
    empty = {"files": 0, **dict.fromkeys(METRIC_FIELDS, 0)}
    for where, success, totals in _per_language(body, "metrics", summary, empty):
        results = _list(success.get("results"), f"{where}.metrics.Success.results")
        budget.take(len(results))
        for result_index, result in enumerate(results):
            result_where = f"{where}.metrics.Success.results[{result_index}]"
            result = _object(result, result_where)
            file_name(_optional(result, "file", "filename"), f"{result_where}.file")
            # `"metrics": null` is a file the tool analysed without metrics.
            metrics = _object(_optional(result, "metrics", default={}), f"{result_where}.metrics")
            for name in METRIC_FIELDS:
                if metrics.get(name) is not None:
                    totals[name] += _non_negative(metrics[name], f"{result_where}.metrics.{name}", name)
            complexities = _optional(metrics, "lineComplexities")
            if complexities is not None:
                for line_index, line in enumerate(_list(complexities, f"{result_where}.metrics.lineComplexities")):
                    line_where = f"{result_where}.metrics.lineComplexities[{line_index}]"
                    line = _object(line, line_where)
                    _positive(line.get("line"), f"{line_where}.line")
                    _non_negative(line.get("value"), f"{line_where}.value")
            totals["files"] += 1
    summary["results"] = budget.used
    return summary


def duplication_results(body, max_results: int) -> dict:
    """A `duplicationRemoteResults` batch → per-language clone counts."""
    budget = _Budget(max_results)
    summary: dict[str, Any] = {"languages": {}, "failures": [], "results": 0}
    empty = {"clones": 0, "duplicatedLines": 0, "duplicatedTokens": 0, "analysedFiles": 0}
    for where, success, totals in _per_language(body, "duplication", summary, empty):
        analysed = _list(_optional(success, "analysedFiles", default=[]),
                         f"{where}.duplication.Success.analysedFiles")
        for file_index, name in enumerate(analysed):
            file_name(name, f"{where}.duplication.Success.analysedFiles[{file_index}]")
        totals["analysedFiles"] += len(analysed)
        results = _list(success.get("results"), f"{where}.duplication.Success.results")
        budget.take(len(results))
        for result_index, clone in enumerate(results):
            clone_where = f"{where}.duplication.Success.results[{result_index}]"
            clone = _object(clone, clone_where)
            if not isinstance(clone.get("cloneLines"), str):
                _fail(f"{clone_where}.cloneLines", "must be a string")
            totals["duplicatedTokens"] += _non_negative(clone.get("nrTokens"), f"{clone_where}.nrTokens", "nrTokens")
            totals["duplicatedLines"] += _non_negative(clone.get("nrLines"), f"{clone_where}.nrLines", "nrLines")
            for file_index, place in enumerate(_list(clone.get("files"), f"{clone_where}.files")):
                place_where = f"{clone_where}.files[{file_index}]"
                place = _object(place, place_where)
                file_name(place.get("filePath"), f"{place_where}.filePath")
                start = _positive(place.get("startLine"), f"{place_where}.startLine")
                end = _positive(place.get("endLine"), f"{place_where}.endLine")
                if end < start:
                    _fail(f"{place_where}.endLine", "must not be before startLine")
            totals["clones"] += 1
    summary["results"] = budget.used
    return summary


ANALYSIS_VALIDATORS = {
    "issues": issues_results,
    "metrics": metrics_results,
    "duplication": duplication_results,
}
