"""Read-backs computed when data arrives: pure functions, no storage.

A commit's read-back must cost the same whatever was uploaded to it, so
nothing is merged when it is read. Each upload folds itself into a small
state, and the rows a read-back pages through are written out then:

- coverage: per file, two bitsets as Python ints (bit n = line n): the
  lines any report made coverable and the lines any report covered. A
  report's hits add up to "covered" exactly when one of them is positive,
  so OR-ing bitsets gives what adding every report's hits gave, at C speed
  and a bit per line. Memory is bounded by the highest line of each file,
  which the service bounds per commit (`line_span`).
- analysis: counts per tool, level, language, and issues per file.

Rows are JSON lines; `offsets` marks where every `ROWS_PER_CHUNK`-th row
starts, so any page of at most `ROWS_PER_CHUNK` rows is one ranged read.
"""
import json
import struct
from typing import Any

from chalicelib.payloads import checks

ROWS_PER_CHUNK = 100
# A file name a read-back lists (a page holds 100): PATH_MAX-like, so that
# a page of rows stays far below Lambda's 6 MB answer whatever was sent.
MAX_FILENAME_CHARS = 1024
# Distinct issue levels in one commit, all tools together (each tool has at
# most checks.MAX_LEVELS): a file's row lists its issues by level.
MAX_LEVELS_PER_COMMIT = 20
# What the merged analysis summary keeps of lists (all are counted).
MAX_KEPT_PER_COMMIT = 50
MAX_KEPT_FILENAME_CHARS = 300

State = dict[str, tuple[int, int]]  # filename -> (coverable bits, covered bits)


# -- coverage ------------------------------------------------------------------

def line_span(files: dict[str, Any]) -> int:
    """The sum over files of their highest line: what their bitsets cost in bits.

    Works on a parsed report ({file: {line: hits}}) and on a state.
    """
    total = 0
    for value in files.values():
        if isinstance(value, tuple):
            total += value[0].bit_length()
        elif value:
            total += max(value) + 1
    return total


def coverage_state(files: dict[str, dict[int, int]]) -> State:
    """A parsed report as bitsets."""
    state: State = {}
    for name, lines in files.items():
        if not lines:
            state[name] = (0, 0)
            continue
        size = max(lines) // 8 + 1
        coverable, covered = bytearray(size), bytearray(size)
        for line, hits in lines.items():
            coverable[line >> 3] |= 1 << (line & 7)
            if hits > 0:
                covered[line >> 3] |= 1 << (line & 7)
        state[name] = (int.from_bytes(coverable, "little"), int.from_bytes(covered, "little"))
    return state


def merge_state(into: State, other: State) -> None:
    """OR `other` into `into`, in place."""
    for name, (coverable, covered) in other.items():
        if name in into:
            old_coverable, old_covered = into[name]
            into[name] = (old_coverable | coverable, old_covered | covered)
        else:
            into[name] = (coverable, covered)


_HEADER = struct.Struct("<III")


def encode_state(state: State) -> bytes:
    """A state as bytes: per file, three lengths then name, coverable, covered."""
    parts = []
    for name, (coverable, covered) in state.items():
        raw_name = name.encode()
        raw_coverable = coverable.to_bytes((coverable.bit_length() + 7) // 8, "little")
        raw_covered = covered.to_bytes((covered.bit_length() + 7) // 8, "little")
        parts += [_HEADER.pack(len(raw_name), len(raw_coverable), len(raw_covered)),
                  raw_name, raw_coverable, raw_covered]
    return b"".join(parts)


def decode_state(raw: bytes) -> State:
    state: State = {}
    view = memoryview(raw)
    at = 0
    while at < len(raw):
        name_len, coverable_len, covered_len = _HEADER.unpack_from(view, at)
        at += _HEADER.size
        name = bytes(view[at:at + name_len]).decode()
        at += name_len
        coverable = int.from_bytes(view[at:at + coverable_len], "little")
        at += coverable_len
        covered = int.from_bytes(view[at:at + covered_len], "little")
        at += covered_len
        state[name] = (coverable, covered)
    return state


def coverage_totals(state: State) -> dict:
    covered = sum(bits.bit_count() for _, bits in state.values())
    coverable = sum(bits.bit_count() for bits, _ in state.values())
    return {"files": len(state), "covered": covered, "coverable": coverable,
            "percentage": checks.percentage(covered, coverable)}


def coverage_rows(state: State):
    """The per-file rows of a state, by file name."""
    for name in sorted(state):
        coverable_bits, covered_bits = state[name]
        covered, coverable = covered_bits.bit_count(), coverable_bits.bit_count()
        yield {"filename": name, "covered": covered, "coverable": coverable,
               "percentage": checks.percentage(covered, coverable)}


# -- rows and pages ------------------------------------------------------------

def rows_object(rows) -> tuple[bytes, list[int], int]:
    """(JSON lines, offsets of every ROWS_PER_CHUNK-th row plus the end, row count)."""
    lines, offsets, at, count = [], [], 0, 0
    for row in rows:
        if count % ROWS_PER_CHUNK == 0:
            offsets.append(at)
        line = (json.dumps(row, separators=(",", ":"), sort_keys=True) + "\n").encode()
        lines.append(line)
        at += len(line)
        count += 1
    offsets.append(at)
    return b"".join(lines), offsets, count


def page_range(offsets: list[int], count: int, start: int, limit: int) -> tuple[int, int, int] | None:
    """The bytes [first, last] holding rows start..start+limit-1, and how many
    rows to skip at their beginning; None when the page is empty."""
    if start >= count or limit <= 0:
        return None
    chunk = start // ROWS_PER_CHUNK
    end_chunk = min((start + limit - 1) // ROWS_PER_CHUNK + 1, len(offsets) - 1)
    return offsets[chunk], offsets[end_chunk] - 1, start - chunk * ROWS_PER_CHUNK


def page_rows(raw: bytes, skip: int, limit: int) -> list[dict]:
    lines = raw.splitlines()[skip:skip + limit]
    return [json.loads(line) for line in lines]


def read_rows(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.splitlines() if line]


# -- analysis ------------------------------------------------------------------

def empty_analysis() -> dict:
    return {"tools": {}, "fileErrorCount": 0, "fileErrors": [], "toolFailures": [],
            "metrics": {}, "metricFailures": [], "duplication": {}, "duplicationFailures": []}


def _keep(into: list, items: list) -> None:
    for item in items:
        if len(into) >= MAX_KEPT_PER_COMMIT:
            return
        if "filename" in item:
            item = {**item, "filename": item["filename"][:MAX_KEPT_FILENAME_CHARS]}
        into.append(item)


def _add_counts(target: dict, languages: dict) -> None:
    for language, counts in languages.items():
        into = target.setdefault(language, dict.fromkeys(counts, 0))
        for name, value in counts.items():
            into[name] = into.get(name, 0) + value


def merge_analysis(state: dict, kind: str, summary: dict) -> None:
    """Fold one batch's summary (`checks.ANALYSIS_VALIDATORS`) into `state`."""
    if kind == "issues":
        for tool, counts in summary["tools"].items():
            target = state["tools"].setdefault(tool, {"issues": 0, "byLevel": {}, "fileErrors": 0})
            target["issues"] += counts["issues"]
            target["fileErrors"] += counts["fileErrors"]
            state["fileErrorCount"] += counts["fileErrors"]
            for level, count in counts["byLevel"].items():
                target["byLevel"][level] = target["byLevel"].get(level, 0) + count
        _keep(state["fileErrors"], summary["fileErrors"])
        _keep(state["toolFailures"], summary["failures"])
    elif kind == "metrics":
        _add_counts(state["metrics"], summary["languages"])
        _keep(state["metricFailures"], summary["failures"])
    elif kind == "duplication":
        _add_counts(state["duplication"], summary["languages"])
        _keep(state["duplicationFailures"], summary["failures"])


def analysis_names(state: dict) -> dict[str, int]:
    """How many distinct names the state holds, per kind of name (for the bounds)."""
    return {
        "tools": len(state["tools"]),
        "levels": max((len(t["byLevel"]) for t in state["tools"].values()), default=0),
        "all levels": len({level for t in state["tools"].values() for level in t["byLevel"]}),
        "languages": max(len(state["metrics"]), len(state["duplication"])),
    }


def long_name(names) -> str | None:
    """The first file name longer than MAX_FILENAME_CHARS, if any."""
    return next((name for name in names if len(name) > MAX_FILENAME_CHARS), None)


def render_analysis(state: dict) -> dict:
    """A merged state as the read-back shows it."""
    levels: dict[str, int] = {}
    for counts in state["tools"].values():
        for level, count in counts["byLevel"].items():
            levels[level] = levels.get(level, 0) + count
    metric_fields = ("files", *checks.METRIC_FIELDS)
    duplication_fields = ("clones", "duplicatedLines", "duplicatedTokens", "analysedFiles")
    return {
        "issues": {
            "total": sum(levels.values()),
            "byLevel": dict(sorted(levels.items())),
            "byTool": dict(sorted(state["tools"].items())),
        },
        "fileErrors": {"total": state["fileErrorCount"], "items": state["fileErrors"]},
        "toolFailures": state["toolFailures"],
        "metrics": {
            "total": {f: sum(c.get(f, 0) for c in state["metrics"].values()) for f in metric_fields},
            "byLanguage": dict(sorted(state["metrics"].items())),
            "failures": state["metricFailures"],
        },
        "duplication": {
            "total": {f: sum(c.get(f, 0) for c in state["duplication"].values()) for f in duplication_fields},
            "byLanguage": dict(sorted(state["duplication"].items())),
            "failures": state["duplicationFailures"],
        },
    }


def _present(value) -> dict:
    """An object with its null fields left out (the analysis CLI keeps nulls: null means absent)."""
    return {key: item for key, item in (value or {}).items() if item is not None}


def issue_files(body) -> dict[str, dict]:
    """Issues and file errors per file of an (already validated) issues batch:
    {filename: {"issues": n, "fileErrors": n, "byLevel": {level: n}}}."""
    files: dict[str, dict] = {}

    def row(name) -> dict:
        name = checks.file_name(name, "filename")
        return files.setdefault(name, {"issues": 0, "fileErrors": 0, "byLevel": {}})

    for entry in body or ():
        success = _present(_present(entry).get("issues")).get("Success")
        if not success:
            continue
        for file_entry in _present(success).get("results") or ():
            file_entry = _present(file_entry)
            if "FileError" in file_entry:
                row(_present(file_entry["FileError"]).get("filename"))["fileErrors"] += 1
                continue
            for result in file_entry.get("results") or ():
                result = _present(result)
                if "Issue" in result:
                    issue = _present(result["Issue"])
                    target = row(issue.get("filename") or file_entry.get("filename"))
                    target["issues"] += 1
                    level = issue.get("level")
                    target["byLevel"][level] = target["byLevel"].get(level, 0) + 1
                elif "FileError" in result:
                    error = _present(result["FileError"])
                    row(error.get("filename") or file_entry.get("filename"))["fileErrors"] += 1
    return files


def merge_file_rows(rows: list[dict], files: dict[str, dict]) -> list[dict]:
    """Stored per-file rows plus one batch's counts, by file name."""
    by_name = {row["filename"]: row for row in rows}
    for name, counts in files.items():
        target = by_name.setdefault(name, {"filename": name, "issues": 0, "fileErrors": 0, "byLevel": {}})
        target["issues"] += counts["issues"]
        target["fileErrors"] += counts["fileErrors"]
        for level, count in counts["byLevel"].items():
            target["byLevel"][level] = target["byLevel"].get(level, 0) + count
    return [by_name[name] for name in sorted(by_name)]
