"""Analysis results (`/2.0/.../issuesRemoteResults`, `metricsRemoteResults`,
`duplicationRemoteResults`): for each kind, one validator and one reducer.

- The validator walks a batch once and returns a small summary (counts per
  tool and level or per language, the first failures and file errors
  kept); every failure is a `BadRequest` naming the place that is wrong.
  Hostile-input budget: one pass over at most `max_results` results, no
  recursion, no regular expressions per line.
- The reducer folds that summary into the commit's state as it arrives, so
  a read-back costs the same whatever was uploaded; `render` shows a state.

Issues also have per-file rows (`issue_files`, `merge_file_rows`), which a
read-back pages through (`chalicelib.payloads.readback`).
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.payloads.checks import (
    MAX_NAMES,
    Budget,
    as_list,
    as_object,
    bounded_name,
    fail,
    file_name,
    kept,
    message,
    non_empty_string,
    non_negative,
    optional,
    outcome,
    positive,
    variant,
)

MAX_FILE_ERRORS_KEPT = 100
MAX_FAILURES_KEPT = 100
MAX_LEVELS = 10  # distinct issue levels of one tool
METRIC_FIELDS = ("complexity", "loc", "cloc", "nrMethods", "nrClasses")
DUPLICATION_FIELDS = ("clones", "duplicatedLines", "duplicatedTokens", "analysedFiles")
# Distinct issue levels in one commit, all tools together (each tool has at
# most MAX_LEVELS): a file's row lists its issues by level.
MAX_LEVELS_PER_COMMIT = 20
# What the merged analysis summary keeps of lists (all are counted).
MAX_KEPT_PER_COMMIT = 50
MAX_KEPT_FILENAME_CHARS = 300


def _keep_failure(summary: dict, entry: dict) -> None:
    if len(summary["failures"]) < MAX_FAILURES_KEPT:
        summary["failures"].append({**entry, "message": kept(entry["message"])})


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    """Add `counts` into `into`, name by name, in place."""
    for name, value in counts.items():
        into[name] = into.get(name, 0) + value


# -- issues ----------------------------------------------------------------------

def validate_issues(body, max_results: int) -> dict:
    """An `issuesRemoteResults` batch → summary: issues per tool and level,
    file errors (the first ones kept, all counted), tool failures."""
    budget = Budget(max_results)
    summary: dict[str, Any] = {"tools": {}, "fileErrors": [], "failures": [], "results": 0}
    for index, entry in enumerate(as_list(body, "body")):
        where = f"[{index}]"
        entry = as_object(entry, where)
        tool = bounded_name(entry.get("tool"), f"{where}.tool", summary["tools"], MAX_NAMES)
        summary["tools"].setdefault(tool, {"issues": 0, "byLevel": {}, "fileErrors": 0})
        success, failure = outcome(entry.get("issues"), f"{where}.issues")
        if failure is not None:
            _keep_failure(summary, {"tool": tool, "message": failure})
            continue
        files = as_list(success.get("results"), f"{where}.issues.Success.results")
        for file_index, file_entry in enumerate(files):
            _issues_of_file(file_entry, f"{where}.issues.Success.results[{file_index}]", tool, summary, budget)
    summary["results"] = budget.used
    return summary


def _issues_of_file(value, where: str, tool: str, summary: dict, budget: Budget) -> None:
    """One entry of a tool's results: a file error, or one file's results."""
    entry = variant(value, where)
    if "FileError" in entry:
        budget.take(1)
        _file_error(entry["FileError"], f"{where}.FileError", tool, summary)
        return
    file_name(entry.get("filename"), f"{where}.filename")
    results = as_list(entry.get("results"), f"{where}.results")
    budget.take(len(results))
    for index, result in enumerate(results):
        result_where = f"{where}.results[{index}]"
        result = variant(result, result_where)
        if len(result) == 1 and "Issue" in result:
            _issue(result["Issue"], f"{result_where}.Issue", tool, summary)
        elif len(result) == 1 and "FileError" in result:
            _file_error(result["FileError"], f"{result_where}.FileError", tool, summary)
        else:
            fail(result_where, 'must be {"Issue": {...}} or {"FileError": {...}}')


def _file_error(value, where: str, tool: str, summary: dict) -> None:
    error = as_object(value, where)
    name = file_name(error.get("filename"), f"{where}.filename")
    # The plugins' own FileError has `message: Option[ErrorMessage]`.
    raw_message = error.get("message")
    text = "" if raw_message is None else message(raw_message, f"{where}.message")
    summary["tools"][tool]["fileErrors"] += 1
    if len(summary["fileErrors"]) < MAX_FILE_ERRORS_KEPT:
        summary["fileErrors"].append({"tool": tool, "filename": name, "message": kept(text)})


def _issue(value, where: str, tool: str, summary: dict) -> None:
    issue = as_object(value, where)
    pattern = as_object(issue.get("patternId"), f"{where}.patternId")
    non_empty_string(pattern.get("value"), f"{where}.patternId.value")
    file_name(issue.get("filename"), f"{where}.filename")
    message(issue.get("message"), f"{where}.message")
    levels = summary["tools"][tool]["byLevel"]
    level = bounded_name(issue.get("level"), f"{where}.level", levels, MAX_LEVELS)
    if optional(issue, "category") is not None and not isinstance(issue["category"], str):
        fail(f"{where}.category", "must be a string")
    _location(issue.get("location"), f"{where}.location")
    levels[level] = levels.get(level, 0) + 1
    summary["tools"][tool]["issues"] += 1


def _location(value, where: str) -> None:
    value = variant(value, where)
    if len(value) == 1 and "FullLocation" in value:
        location = as_object(value["FullLocation"], f"{where}.FullLocation")
        positive(location.get("line"), f"{where}.FullLocation.line")
        non_negative(location.get("column"), f"{where}.FullLocation.column", "column")
    elif len(value) == 1 and "LineLocation" in value:
        location = as_object(value["LineLocation"], f"{where}.LineLocation")
        positive(location.get("line"), f"{where}.LineLocation.line")
    else:
        fail(where, 'must be {"FullLocation": {"line", "column"}} or {"LineLocation": {"line"}}')


def fold_issues(state: dict, summary: dict) -> None:
    """Fold an issues batch's summary into the commit's state, in place."""
    for tool, counts in summary["tools"].items():
        target = state["tools"].setdefault(tool, {"issues": 0, "byLevel": {}, "fileErrors": 0})
        target["issues"] += counts["issues"]
        target["fileErrors"] += counts["fileErrors"]
        state["fileErrorCount"] += counts["fileErrors"]
        _add(target["byLevel"], counts["byLevel"])
    _keep(state["fileErrors"], summary["fileErrors"])
    _keep(state["toolFailures"], summary["failures"])


# -- metrics and duplication: per language ---------------------------------------

def _language_batch(body, field: str, empty_totals: dict, max_results: int, per_result, per_success=None) -> dict:
    """A metrics or duplication batch, `[{"language", field: {"Success" | "Failure"}}]`
    → per-language totals and the failures kept. Of each success,
    `per_success` (if any) checks the rest, then `per_result` each of its
    `results`; both add to that language's totals."""
    budget = Budget(max_results)
    summary: dict[str, Any] = {"languages": {}, "failures": [], "results": 0}
    for index, entry in enumerate(as_list(body, "body")):
        where = f"[{index}]"
        entry = as_object(entry, where)
        language = bounded_name(entry.get("language"), f"{where}.language", summary["languages"], MAX_NAMES)
        success, failure = outcome(entry.get(field), f"{where}.{field}")
        totals = summary["languages"].setdefault(language, dict(empty_totals))
        if failure is not None:
            _keep_failure(summary, {"language": language, "message": failure})
            continue
        success_where = f"{where}.{field}.Success"
        if per_success is not None:
            per_success(success, success_where, totals)
        results = as_list(success.get("results"), f"{success_where}.results")
        budget.take(len(results))
        for result_index, result in enumerate(results):
            per_result(result, f"{success_where}.results[{result_index}]", totals)
    summary["results"] = budget.used
    return summary


def validate_metrics(body, max_results: int) -> dict:
    """A `metricsRemoteResults` batch → per-language sums of the metrics."""
    return _language_batch(body, "metrics", {"files": 0, **dict.fromkeys(METRIC_FIELDS, 0)}, max_results,
                           _metrics_of_file)


def _metrics_of_file(value, where: str, totals: dict) -> None:
    result = as_object(value, where)
    file_name(optional(result, "file", "filename"), f"{where}.file")
    # `"metrics": null` is a file the tool analysed without metrics.
    metrics = as_object(optional(result, "metrics", default={}), f"{where}.metrics")
    for name in METRIC_FIELDS:
        if metrics.get(name) is not None:
            totals[name] += non_negative(metrics[name], f"{where}.metrics.{name}", name)
    complexities = optional(metrics, "lineComplexities")
    if complexities is not None:
        for index, line in enumerate(as_list(complexities, f"{where}.metrics.lineComplexities")):
            line_where = f"{where}.metrics.lineComplexities[{index}]"
            line = as_object(line, line_where)
            positive(line.get("line"), f"{line_where}.line")
            non_negative(line.get("value"), f"{line_where}.value")
    totals["files"] += 1


def fold_metrics(state: dict, summary: dict) -> None:
    """Fold a metrics batch's summary into the commit's state, in place."""
    _add_languages(state["metrics"], summary["languages"])
    _keep(state["metricFailures"], summary["failures"])


def validate_duplication(body, max_results: int) -> dict:
    """A `duplicationRemoteResults` batch → per-language clone counts."""
    return _language_batch(body, "duplication", dict.fromkeys(DUPLICATION_FIELDS, 0), max_results,
                           _clone, _analysed_files)


def _analysed_files(success: dict, where: str, totals: dict) -> None:
    analysed = as_list(optional(success, "analysedFiles", default=[]), f"{where}.analysedFiles")
    for index, name in enumerate(analysed):
        file_name(name, f"{where}.analysedFiles[{index}]")
    totals["analysedFiles"] += len(analysed)


def _clone(value, where: str, totals: dict) -> None:
    clone = as_object(value, where)
    if not isinstance(clone.get("cloneLines"), str):
        fail(f"{where}.cloneLines", "must be a string")
    totals["duplicatedTokens"] += non_negative(clone.get("nrTokens"), f"{where}.nrTokens", "nrTokens")
    totals["duplicatedLines"] += non_negative(clone.get("nrLines"), f"{where}.nrLines", "nrLines")
    for index, place in enumerate(as_list(clone.get("files"), f"{where}.files")):
        place_where = f"{where}.files[{index}]"
        place = as_object(place, place_where)
        file_name(place.get("filePath"), f"{place_where}.filePath")
        start = positive(place.get("startLine"), f"{place_where}.startLine")
        end = positive(place.get("endLine"), f"{place_where}.endLine")
        if end < start:
            fail(f"{place_where}.endLine", "must not be before startLine")
    totals["clones"] += 1


def fold_duplication(state: dict, summary: dict) -> None:
    """Fold a duplication batch's summary into the commit's state, in place."""
    _add_languages(state["duplication"], summary["languages"])
    _keep(state["duplicationFailures"], summary["failures"])


# -- the commit's state ----------------------------------------------------------

def empty_state() -> dict:
    return {"tools": {}, "fileErrorCount": 0, "fileErrors": [], "toolFailures": [],
            "metrics": {}, "metricFailures": [], "duplication": {}, "duplicationFailures": []}


def _keep(into: list, items: list) -> None:
    for item in items:
        if len(into) >= MAX_KEPT_PER_COMMIT:
            return
        if "filename" in item:
            item = {**item, "filename": item["filename"][:MAX_KEPT_FILENAME_CHARS]}
        into.append(item)


def _add_languages(target: dict, languages: dict) -> None:
    for language, counts in languages.items():
        _add(target.setdefault(language, dict.fromkeys(counts, 0)), counts)


def names(state: dict) -> dict[str, int]:
    """How many distinct names the state holds, per kind of name (for the bounds)."""
    return {
        "tools": len(state["tools"]),
        "levels": max((len(t["byLevel"]) for t in state["tools"].values()), default=0),
        "all levels": len({level for t in state["tools"].values() for level in t["byLevel"]}),
        "languages": max(len(state["metrics"]), len(state["duplication"])),
    }


def render(state: dict) -> dict:
    """A commit's state as the read-back shows it."""
    levels: dict[str, int] = {}
    for counts in state["tools"].values():
        _add(levels, counts["byLevel"])
    return {
        "issues": {
            "total": sum(levels.values()),
            "byLevel": dict(sorted(levels.items())),
            "byTool": dict(sorted(state["tools"].items())),
        },
        "fileErrors": {"total": state["fileErrorCount"], "items": state["fileErrors"]},
        "toolFailures": state["toolFailures"],
        "metrics": _render_languages(state["metrics"], ("files", *METRIC_FIELDS), state["metricFailures"]),
        "duplication": _render_languages(state["duplication"], DUPLICATION_FIELDS, state["duplicationFailures"]),
    }


def _render_languages(languages: dict, fields: tuple, failures: list) -> dict:
    return {
        "total": {f: sum(c.get(f, 0) for c in languages.values()) for f in fields},
        "byLanguage": dict(sorted(languages.items())),
        "failures": failures,
    }


# -- issues per file -------------------------------------------------------------

def _present(value) -> dict:
    """An object with its null fields left out (the analysis CLI keeps nulls: null means absent)."""
    return {key: item for key, item in (value or {}).items() if item is not None}


def issue_files(body) -> dict[str, dict]:
    """Issues and file errors per file of an (already validated) issues batch:
    {filename: {"issues": n, "fileErrors": n, "byLevel": {level: n}}}."""
    files: dict[str, dict] = {}
    for entry in body or ():
        success = _present(_present(entry).get("issues")).get("Success")
        for file_entry in (_present(success).get("results") or ()) if success else ():
            _count_file_entry(files, _present(file_entry))
    return files


def _count_file_entry(files: dict[str, dict], file_entry: dict) -> None:
    """One entry of a tool's results: a file error, or one file's results."""
    if "FileError" in file_entry:
        _file_row(files, _present(file_entry["FileError"]).get("filename"))["fileErrors"] += 1
        return
    for result in file_entry.get("results") or ():
        result = _present(result)
        if "Issue" in result:
            issue = _present(result["Issue"])
            row = _file_row(files, issue.get("filename") or file_entry.get("filename"))
            row["issues"] += 1
            level = issue["level"]  # validated: a name
            row["byLevel"][level] = row["byLevel"].get(level, 0) + 1
        elif "FileError" in result:
            error = _present(result["FileError"])
            _file_row(files, error.get("filename") or file_entry.get("filename"))["fileErrors"] += 1


def _file_row(files: dict[str, dict], name) -> dict:
    return files.setdefault(file_name(name, "filename"), {"issues": 0, "fileErrors": 0, "byLevel": {}})


def merge_file_rows(rows: list[dict], files: dict[str, dict]) -> list[dict]:
    """Stored per-file rows plus one batch's counts, by file name."""
    by_name = {row["filename"]: row for row in rows}
    for name, counts in files.items():
        target = by_name.setdefault(name, {"filename": name, "issues": 0, "fileErrors": 0, "byLevel": {}})
        target["issues"] += counts["issues"]
        target["fileErrors"] += counts["fileErrors"]
        _add(target["byLevel"], counts["byLevel"])
    return [by_name[name] for name in sorted(by_name)]


# -- the kinds -------------------------------------------------------------------

@dataclass(frozen=True)
class Format:
    """One kind of analysis results: its validator (batch → summary), its
    reducer (summary folded into the commit's state) and its per-file rows
    (a validated batch → {filename: counts}; only issues have any)."""

    validate: Callable[[Any, int], dict]
    fold: Callable[[dict, dict], None]
    files: Callable[[Any], dict[str, dict]]


def _no_files(body) -> dict[str, dict]:
    return {}


FORMATS = {
    "issues": Format(validate_issues, fold_issues, issue_files),
    "metrics": Format(validate_metrics, fold_metrics, _no_files),
    "duplication": Format(validate_duplication, fold_duplication, _no_files),
}
