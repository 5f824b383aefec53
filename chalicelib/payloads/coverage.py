"""Coverage reports (`/2.0/.../coverage/{language}`): the body, and the
state a commit's read-back is folded into as reports arrive.

A commit's read-back must cost the same whatever was uploaded to it, so
nothing is merged when it is read. Its state is, per file, two bitsets as
Python ints (bit n = line n): the lines any report made coverable and the
lines any report covered. A report's hits add up to "covered" exactly when
one of them is positive, so OR-ing bitsets gives what adding every report's
hits gave, at C speed and a bit per line. Memory is bounded by the highest
line of each file, which the service bounds per commit (`line_span`).
"""
import struct
from typing import Any

from chalicelib.payloads.checks import as_list, as_object, fail, file_name, is_int, optional

Lines = dict[int, int]  # line -> hits
State = dict[str, tuple[int, int]]  # filename -> (coverable bits, covered bits)


def report(body) -> dict[str, Lines]:
    """`{"fileReports": [{"filename", "coverage": {"<line>": hits}}]}` →
    {filename: {line: hits}}. `total`, `codeLines` and `language` that older
    clients send are accepted and ignored (they are recomputed). A file
    listed twice has its hits added."""
    body = as_object(body, "body")
    reports = as_list(body.get("fileReports"), "fileReports")
    files: dict[str, Lines] = {}
    for index, entry in enumerate(reports):
        where = f"fileReports[{index}]"
        entry = as_object(entry, where)
        name = file_name(entry.get("filename"), f"{where}.filename")
        hits = optional(entry, "coverage", default={})
        if not isinstance(hits, dict):
            fail(f"{where}.coverage", 'must be an object {"<line>": hits}')
        _add_hits(files.setdefault(name, {}), hits, f"{where}.coverage")
    return files


def _add_hits(lines: Lines, hits_by_line: dict, where: str) -> None:
    """Add one entry's `{"<line>": hits}` to a file's `lines`, in place."""
    for line, hits in hits_by_line.items():
        if not (line.isascii() and line.isdigit()) or len(line) > 9:
            fail(f'{where}["{line[:20]}"]', "line must be a positive integer")
        if not is_int(hits) or hits < 0:
            fail(f'{where}["{line}"]', "hit count must be a non-negative integer")
        number = int(line)
        if number < 1:
            fail(f'{where}["{line}"]', "line must be a positive integer")
        lines[number] = lines.get(number, 0) + hits


def percentage(covered: int, coverable: int) -> float | None:
    """Covered share in percent, 2 decimals; None when nothing is coverable."""
    return round(100.0 * covered / coverable, 2) if coverable else None


# -- the commit's state ----------------------------------------------------------

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


def bitsets(files: dict[str, Lines]) -> State:
    """A parsed report as a state."""
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


def merge(into: State, other: State) -> None:
    """OR `other` into `into`, in place."""
    for name, (coverable, covered) in other.items():
        if name in into:
            old_coverable, old_covered = into[name]
            into[name] = (old_coverable | coverable, old_covered | covered)
        else:
            into[name] = (coverable, covered)


_HEADER = struct.Struct("<III")


def encode(state: State) -> bytes:
    """A state as bytes: per file, three lengths then name, coverable, covered."""
    parts = []
    for name, (coverable, covered) in state.items():
        raw_name = name.encode()
        raw_coverable = coverable.to_bytes((coverable.bit_length() + 7) // 8, "little")
        raw_covered = covered.to_bytes((covered.bit_length() + 7) // 8, "little")
        parts += [_HEADER.pack(len(raw_name), len(raw_coverable), len(raw_covered)),
                  raw_name, raw_coverable, raw_covered]
    return b"".join(parts)


def decode(raw: bytes) -> State:
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


def totals(state: State) -> dict:
    covered = sum(bits.bit_count() for _, bits in state.values())
    coverable = sum(bits.bit_count() for bits, _ in state.values())
    return {"files": len(state), "covered": covered, "coverable": coverable,
            "percentage": percentage(covered, coverable)}


def rows(state: State):
    """The per-file rows of a state, by file name."""
    for name in sorted(state):
        coverable_bits, covered_bits = state[name]
        covered, coverable = covered_bits.bit_count(), coverable_bits.bit_count()
        yield {"filename": name, "covered": covered, "coverable": coverable,
               "percentage": percentage(covered, coverable)}
