"""Bodies in the shapes Codacy's clients send (codacy-compat.md, API v2)."""

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def coverage(files: dict[str, dict[int, int]], **extra) -> dict:
    """{"fileReports": [...]} from {filename: {line: hits}}."""
    return {
        "fileReports": [
            {"filename": name, "coverage": {str(line): hits for line, hits in lines.items()}}
            for name, lines in files.items()
        ],
        **extra,
    }


def issue(filename="src/a.js", line=1, level="Info", pattern="no-unused-vars", column=None):
    location = {"LineLocation": {"line": line}} if column is None else {
        "FullLocation": {"line": line, "column": column}}
    return {"Issue": {"patternId": {"value": pattern}, "filename": filename,
                      "message": {"text": "something"}, "level": level, "category": "UnusedCode",
                      "location": location}}


def issues(tool="eslint", files=None, failure=None):
    """One tool's issues: files = {filename: [result, ...]}."""
    if failure is not None:
        return {"tool": tool, "issues": {"Failure": {"message": failure}}}
    results = [{"filename": name, "results": results} for name, results in (files or {}).items()]
    return {"tool": tool, "issues": {"Success": {"results": results}}}


def file_error(filename="src/bad.js", message="could not parse"):
    return {"FileError": {"filename": filename, "message": message}}


def metrics(language="javascript", files=None, failure=None):
    if failure is not None:
        return {"language": language, "metrics": {"Failure": {"message": failure}}}
    return {"language": language, "metrics": {"Success": {"results": [
        {"file": name, "metrics": values} for name, values in (files or {}).items()]}}}


def duplication(language="javascript", clones=(), analysed=("src/a.js", "src/b.js"), failure=None):
    if failure is not None:
        return {"language": language, "duplication": {"Failure": {"message": failure}}}
    return {"language": language, "duplication": {"Success": {
        "analysedFiles": list(analysed),
        "results": [
            {"cloneLines": "x = 1", "nrTokens": tokens, "nrLines": lines,
             "files": [{"filePath": "src/a.js", "startLine": 1, "endLine": lines},
                       {"filePath": "src/b.js", "startLine": 10, "endLine": 9 + lines}]}
            for tokens, lines in clones
        ]}}}
