"""A repository's analysis configuration: what a repository admin sets and
what the Scala analysis CLI reads, pure functions.

The CLI decodes `GET /2.0/project/analysis/configuration` into its
`ProjectConfiguration` case class (codacy-analysis-cli,
core/.../clients/api/Configuration.scala), with circe:

    ProjectConfiguration(ignoredPaths: Set[FilePath(value)],
                         defaultIgnores: Option[Set[PathRegex(value)]],
                         projectExtensions: Set[LanguageExtensions(language: Language, extensions: Set[String])],
                         toolConfiguration: Set[ToolConfiguration(uuid, isEnabled, notEdited,
                                                                  patterns: Set[ToolPattern(internalId,
                                                                      parameters: Set[ToolParameter(name, value)])])])

A body that does not decode fails the CLI's whole analysis, so what is
stored is checked against that shape here, once, when it is set: a
`language` must be one `Languages.fromName` knows (codacy-plugins-api,
case-insensitive; stored in its own spelling), every string a string,
every flag a boolean. For convenience `ignoredPaths` and `defaultIgnores`
also take plain strings; they are stored and answered as `{"value": ...}`.
Null means absent, as in the upload bodies.
"""
from typing import NoReturn

from chalicelib.errors import BadRequest

MAX_BODY_BYTES = 256 * 1024  # stored as one DynamoDB item (at most 400 KB)
MAX_ENTRIES = 1000  # in any one list
MAX_STRING = 1000  # characters of any one string
FIELDS = ("ignoredPaths", "defaultIgnores", "projectExtensions", "toolConfiguration")

# codacy-plugins-api, com.codacy.plugins.api.languages.Languages.all: the
# names the CLI's language decoder accepts (`Languages.fromName`).
LANGUAGES = (
    "Javascript", "Scala", "CSS", "PHP", "Python", "Ruby", "Crystal", "Java", "CoffeeScript", "Swift", "CPP", "C",
    "Shell", "TypeScript", "Dockerfile", "SQL", "TSQL", "PLSQL", "JSON", "SASS", "LESS", "Go", "JSP", "Velocity",
    "XML", "Apex", "Elixir", "Clojure", "Rust", "Haskell", "Erlang", "YAML", "Dart", "Elm", "HTML", "Groovy",
    "VisualForce", "Perl", "CSharp", "VisualBasic", "Objective C", "FSharp", "Cobol", "Fortran", "R", "Scratch",
    "Lua", "Lisp", "Prolog", "Julia", "Kotlin", "Powershell", "Solidity", "OCaml", "Markdown", "ABAP", "Terraform",
)
_BY_LOWER = {name.lower(): name for name in LANGUAGES}

EMPTY: dict[str, list] = {"ignoredPaths": [], "defaultIgnores": [], "projectExtensions": [], "toolConfiguration": []}


def _fail(where: str, what: str) -> NoReturn:
    raise BadRequest(f"{where}: {what}", field=where.split("[")[0].split(".")[0] or "body")


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(where, "must be a list")
    if len(value) > MAX_ENTRIES:
        _fail(where, f"at most {MAX_ENTRIES} entries")
    return value


def _object(value, where: str, allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        _fail(where, "must be an object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(f"{where}.{unknown[0]}", "unknown field")
    return value


def _string(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, "must be a non-empty string")
    if len(value) > MAX_STRING:
        _fail(where, f"at most {MAX_STRING} characters")
    if "\x00" in value:
        _fail(where, "must not contain NUL")
    return value


def _flag(value, where: str, default: bool | None = None) -> bool:
    if value is None and default is not None:
        return default
    if not isinstance(value, bool):
        _fail(where, "must be true or false")
    return value


def _values(value, where: str) -> list[dict]:
    """`[{"value": s}]` (or plain strings) → `[{"value": s}]`, without repeats."""
    seen: dict[str, None] = {}
    for index, entry in enumerate(_list(value, where)):
        entry_where = f"{where}[{index}]"
        if isinstance(entry, dict):
            entry = _object(entry, entry_where, ("value",)).get("value")
            entry_where += ".value"
        seen.setdefault(_string(entry, entry_where), None)
    return [{"value": item} for item in seen]


def _extensions(value, where: str) -> list[dict]:
    out = []
    languages: set[str] = set()
    for index, entry in enumerate(_list(value, where)):
        entry_where = f"{where}[{index}]"
        entry = _object(entry, entry_where, ("language", "extensions"))
        raw = _string(entry.get("language"), f"{entry_where}.language")
        language = _BY_LOWER.get(raw.lower())
        if language is None:
            _fail(f"{entry_where}.language", f"not a language the analysis CLI knows: {raw!r}")
        if language in languages:
            _fail(f"{entry_where}.language", f"{language} is listed twice")
        languages.add(language)
        extensions = []
        for ext_index, extension in enumerate(_list(entry.get("extensions"), f"{entry_where}.extensions")):
            extension = _string(extension, f"{entry_where}.extensions[{ext_index}]")
            if extension not in extensions:
                extensions.append(extension)
        out.append({"language": language, "extensions": extensions})
    return out


def _tools(value, where: str) -> list[dict]:
    out = []
    uuids: set[str] = set()
    for index, entry in enumerate(_list(value, where)):
        entry_where = f"{where}[{index}]"
        entry = _object(entry, entry_where, ("uuid", "isEnabled", "notEdited", "patterns"))
        uuid = _string(entry.get("uuid"), f"{entry_where}.uuid")
        if uuid in uuids:
            _fail(f"{entry_where}.uuid", f"tool {uuid} is listed twice")
        uuids.add(uuid)
        patterns = []
        for pattern_index, pattern in enumerate(_list(entry.get("patterns"), f"{entry_where}.patterns")):
            pattern_where = f"{entry_where}.patterns[{pattern_index}]"
            pattern = _object(pattern, pattern_where, ("internalId", "parameters"))
            parameters = []
            for parameter_index, parameter in enumerate(
                    _list(pattern.get("parameters"), f"{pattern_where}.parameters")):
                parameter_where = f"{pattern_where}.parameters[{parameter_index}]"
                parameter = _object(parameter, parameter_where, ("name", "value"))
                value_of = parameter.get("value")
                if not isinstance(value_of, str):
                    _fail(f"{parameter_where}.value", "must be a string")
                parameters.append({"name": _string(parameter.get("name"), f"{parameter_where}.name"),
                                   "value": value_of})
            patterns.append({"internalId": _string(pattern.get("internalId"), f"{pattern_where}.internalId"),
                             "parameters": parameters})
        out.append({"uuid": uuid, "isEnabled": _flag(entry.get("isEnabled"), f"{entry_where}.isEnabled"),
                    "notEdited": _flag(entry.get("notEdited"), f"{entry_where}.notEdited", default=False),
                    "patterns": patterns})
    return out


def validate(body) -> dict:
    """A configuration body → its stored (and answered) form, or BadRequest."""
    body = _object(body, "body", FIELDS)
    return {
        "ignoredPaths": _values(body.get("ignoredPaths"), "ignoredPaths"),
        "defaultIgnores": _values(body.get("defaultIgnores"), "defaultIgnores"),
        "projectExtensions": _extensions(body.get("projectExtensions"), "projectExtensions"),
        "toolConfiguration": _tools(body.get("toolConfiguration"), "toolConfiguration"),
    }


def answer(stored: dict | None) -> dict:
    """What `GET .../analysis/configuration` answers: the stored form, or the
    empty configuration (every field present, so every CLI version decodes it)."""
    return {**EMPTY, **(stored or {})}
