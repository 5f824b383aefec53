"""The checks every upload format shares: each returns the value it checked
or raises a `BadRequest` naming the place that is wrong, e.g.
`fileReports[3].coverage["12"]: hit count must be a non-negative integer`.

Null means absent, at every level: the Scala analysis CLI serialises its
case classes with circe and prints them with nulls kept (`Json.toString`
in its `HttpHelper.post`), so an `Option` that is empty arrives as `null`
(`"category": null`, `"metrics": null`, `"complexity": null`). Optional
fields are read with `optional`, and the one-key objects that stand for a
Scala sealed trait (`{"Success": ...}`, `{"Issue": ...}`,
`{"FullLocation": ...}`) are read without their null keys (`variant`).
"""
import re
from urllib.parse import unquote

from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.names import is_dot_segment

COMMIT = re.compile(r"[0-9a-fA-F]{40}")
DRIVE = re.compile(r"[A-Za-z]:")
MAX_LANGUAGE = 64
# A summary is one DynamoDB item (at most 400 KB): what it keeps is bounded.
MAX_NAME_CHARS = 100  # a tool, level or language name
MAX_KEPT_MESSAGE_CHARS = 500  # kept messages are cut to this
MAX_NAMES = 50  # distinct tools, or languages, in one batch


def fail(where: str, what: str):
    raise BadRequest(f"{where}: {what}", field=where.split("[")[0].split(".")[0] or "body")


# -- the path's values -----------------------------------------------------------

def commit_id(raw: str) -> str:
    """A 40-hex commit SHA, lower-cased."""
    if not isinstance(raw, str) or not COMMIT.fullmatch(raw):
        raise BadRequest("commit: must be a 40-character hexadecimal commit SHA", field="commit")
    return raw.lower()


def language_name(raw: str) -> str:
    """A language from the path: `%20` decoded (whether or not the gateway
    decoded it already), trimmed, lower case."""
    name = unquote(raw or "").strip().lower()
    if not name:
        raise BadRequest("language: must not be empty", field="language")
    if len(name) > MAX_LANGUAGE or "/" in name or any(ord(c) < 32 for c in name):
        raise BadRequest(f"language: at most {MAX_LANGUAGE} printable characters, no '/'", field="language")
    if is_dot_segment(name):  # it becomes a part of the upload's S3 key
        raise BadRequest("language: must not be '.' or '..'", field="language")
    return name


# -- the body's values -----------------------------------------------------------

def file_name(value, where: str) -> str:
    """A file name in repository-relative form, as stored and shown.

    Real clients do not always send that form (`codacy-compat.md`): the
    PyPI reporter sends `/src/a.py` when coverage.py's `<source>` is the git
    top level, Windows jobs send `src\\a.py`. So backslashes become `/` and
    one leading `/` or `./` is dropped; what is left must be plain
    segments: none empty, `.` or `..`, no drive letter, no NUL.
    """
    if not isinstance(value, str) or not value.strip():
        fail(where, "must be a non-empty string")
    if "\x00" in value:
        fail(where, "must not contain NUL")
    name = value.replace("\\", "/")
    if name.startswith("./"):
        name = name[2:]
    elif name.startswith("/"):
        name = name[1:]
    if not name.strip():
        fail(where, f"must name a file, got {value!r}")
    segments = name.split("/")
    if ".." in segments:
        fail(where, f"must not contain '..', got {value!r}")
    if "." in segments or "" in segments:
        fail(where, f"must not have empty or '.' segments, got {value!r}")
    if DRIVE.match(name):
        fail(where, f"must be relative to the repository, got {value!r}")
    return name


def optional(entry: dict, *names: str, default=None):
    """An optional field: the first of `names` that is present and not null."""
    for name in names:
        value = entry.get(name)
        if value is not None:
            return value
    return default


def variant(value, where: str) -> dict:
    """A one-key object standing for a case of a Scala sealed trait, null keys left out."""
    return {key: item for key, item in as_object(value, where).items() if item is not None}


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def non_negative(value, where: str, name: str = "value") -> int:
    if not is_int(value) or value < 0:
        fail(where, f"{name} must be a non-negative integer")
    return value


def positive(value, where: str) -> int:
    if not is_int(value) or value < 1:
        fail(where, "must be a positive integer")
    return value


def as_list(value, where: str) -> list:
    if not isinstance(value, list):
        fail(where, "must be a list")
    return value


def as_object(value, where: str) -> dict:
    if not isinstance(value, dict):
        fail(where, "must be an object")
    return value


def non_empty_string(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        fail(where, "must be a non-empty string")
    return value


def bounded_name(value, where: str, known, limit: int) -> str:
    """A tool, level or language name: short, and one of at most `limit` distinct."""
    name = non_empty_string(value, where)
    if len(name) > MAX_NAME_CHARS:
        fail(where, f"at most {MAX_NAME_CHARS} characters")
    if name not in known and len(known) >= limit:
        fail(where, f"at most {limit} distinct values in one batch")
    return name


def kept(message: str) -> str:
    """A message as a summary keeps it: cut to MAX_KEPT_MESSAGE_CHARS."""
    return message[:MAX_KEPT_MESSAGE_CHARS]


def message(value, where: str) -> str:
    """A message: a string, or `{"text": string}` as Scala clients write it."""
    if isinstance(value, dict):
        value = value.get("text")
    if not isinstance(value, str):
        fail(where, "must be a string or {\"text\": string}")
    return value


def outcome(value, where: str):
    """`{"Success": {...}}` or `{"Failure": {"message": ...}}` → (success, failure message)."""
    value = variant(value, where)
    if len(value) != 1 or not ({"Success", "Failure"} & set(value)):
        fail(where, 'must be {"Success": {...}} or {"Failure": {"message": ...}}')
    if "Failure" in value:
        failure = as_object(value["Failure"], f"{where}.Failure")
        return None, message(failure.get("message"), f"{where}.Failure.message")
    return as_object(value["Success"], f"{where}.Success"), None


class Budget:
    """Counts results across one body against the per-request limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise PayloadTooLarge(f"body: at most {self.limit} results per request")
