"""The per-file rows a read-back pages through: pure functions, no storage.

A commit's read-back must cost the same whatever was uploaded to it: each
upload writes out the rows then (`coverage.rows`, `analysis.merge_file_rows`)
as JSON lines; `offsets` marks where every `ROWS_PER_CHUNK`-th row starts,
so any page of at most `ROWS_PER_CHUNK` rows is one ranged read.
"""
import json

ROWS_PER_CHUNK = 100
# A file name a read-back lists (a page holds 100): PATH_MAX-like, so that
# a page of rows stays far below Lambda's 6 MB answer whatever was sent.
MAX_FILENAME_CHARS = 1024


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


def long_name(names) -> str | None:
    """The first file name longer than MAX_FILENAME_CHARS, if any."""
    return next((name for name in names if len(name) > MAX_FILENAME_CHARS), None)
