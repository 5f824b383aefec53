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


# -- as the Scala analysis CLI serialises them ---------------------------------
#
# codacy/codacy-analysis-cli encodes its case classes with circe's generic
# auto-derivation (core/.../clients/CodacyClient.scala: `io.circe.generic.auto._`,
# `results.asJson`) and sends `data.toString` (core/.../utils/HttpHelper.scala),
# circe's `spaces2` printer, which keeps nulls. So every field of every case
# class is there, an empty `Option` is `null`, a sealed trait's case is a
# one-key object named for the case class, and a `Set` is a list.
# The case classes (model/src/main/scala/com/codacy/analysis/core/model/):
#   ToolResults(tool: String, issues: IssuesAnalysis)
#   IssuesAnalysis.Success(results: Set[FileResults]) | Failure(message: String)
#   IssuesAnalysis.FileResults(filename: Path, results: Set[ToolResult])
#   Issue(patternId: Pattern.Id, filename: Path, message: Issue.Message,
#         level: Result.Level, category: Option[Pattern.Category], location: Location)
#   FileError(filename: Path, message: String)
#   FullLocation(line: Int, column: Int) | LineLocation(line: Int)
#   MetricsResult(language: String, metrics: MetricsAnalysis)
#   MetricsAnalysis.FileResults(file: Path, metrics: Option[Metrics])
#   Metrics(complexity, loc, cloc, nrMethods, nrClasses: Option[Int],
#           lineComplexities: Set[LineComplexity(line: Int, value: Int)])
#   DuplicationResult(language: String, duplication: DuplicationAnalysis)
#   DuplicationAnalysis.Success(analysedFiles: Set[Path], results: Set[DuplicationClone])
#   DuplicationClone(cloneLines: String, nrTokens: Int, nrLines: Int,
#                    files: Set[DuplicationCloneFile(filePath: String, startLine: Int, endLine: Int)])
# `Path` is encoded with `toString` (CodacyClient's pathEncoder), so a file
# name is whatever form the CLI resolved it to.

def cli_issue(filename, line, pattern="no-unused-vars", level="Info", category=None, column=None):
    location = ({"LineLocation": {"line": line}} if column is None
                else {"FullLocation": {"line": line, "column": column}})
    return {"Issue": {"patternId": {"value": pattern}, "filename": filename,
                      "message": {"text": f"{pattern} at {line}"}, "level": level,
                      "category": category, "location": location}}


def cli_file_error(filename, message="Could not parse file"):
    return {"FileError": {"filename": filename, "message": message}}


def cli_tool_results(tool, files=None, failure=None):
    """One ToolResults: files = {filename: [cli_issue / cli_file_error, ...]}."""
    if failure is not None:
        return {"tool": tool, "issues": {"Failure": {"message": failure}}}
    return {"tool": tool, "issues": {"Success": {"results": [
        {"filename": name, "results": results} for name, results in (files or {}).items()]}}}


def cli_metrics(language, files):
    """One MetricsResult: files = {file: None | {metric: value}}, every
    metric present (null when the tool has none)."""
    def metrics_of(values):
        if values is None:
            return None
        return {"complexity": values.get("complexity"), "loc": values.get("loc"), "cloc": values.get("cloc"),
                "nrMethods": values.get("nrMethods"), "nrClasses": values.get("nrClasses"),
                "lineComplexities": values.get("lineComplexities", [])}
    return {"language": language, "metrics": {"Success": {"results": [
        {"file": name, "metrics": metrics_of(values)} for name, values in files.items()]}}}


def cli_duplication(language, analysed, clones):
    """One DuplicationResult: clones = [(nrTokens, nrLines, [(filePath, start, end), ...])]."""
    return {"language": language, "duplication": {"Success": {
        "analysedFiles": list(analysed),
        "results": [{"cloneLines": "x = 1\n" * lines, "nrTokens": tokens, "nrLines": lines,
                     "files": [{"filePath": path, "startLine": start, "endLine": end}
                               for path, start, end in places]}
                    for tokens, lines, places in clones]}}}
