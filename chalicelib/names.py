"""Organization and repository names: the one rule for the names latchkey
serves, and for every name that becomes part of a key.

A name is 1-100 of `A-Z a-z 0-9 . _ -` (the characters GitHub, GitLab and
Bitbucket allow in organization and repository names, all of them
unreserved in URLs, so a name reaches the API the same whether or not a
client or the gateway percent-encodes it), and never `.` or `..`: names
become parts of DynamoDB keys and S3 keys (`uploads/gh/<org>/<repo>/...`),
where a dot segment would step out of its place.

The operators' CLI (`manage.py`, through `AdminService`) creates only names
that pass `check_name`; the API answers 404 for any other name before any
read, since no such organization or repository can exist.
"""
import re

from chalicelib.errors import BadRequest

NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
DOT_SEGMENTS = frozenset({".", ".."})
RULE = "1-100 letters, digits, '.', '_' or '-', and not '.' or '..'"


def is_name(value) -> bool:
    """Whether `value` is a name latchkey can store and serve."""
    return isinstance(value, str) and bool(NAME.fullmatch(value)) and value not in DOT_SEGMENTS


def check_name(what: str, value) -> str:
    """`value` if it is a name, else BadRequest naming `what` and the rule."""
    if not is_name(value):
        raise BadRequest(f"{what}: {RULE}, got {value!r}", field=what)
    return value


def is_dot_segment(value: str) -> bool:
    """`.` or `..`: never a part of a key, whatever else the part may hold."""
    return value.strip() in DOT_SEGMENTS
