"""`make audit`: pip-audit over the project's virtual environment.

The advisory service (PyPI's JSON API, which pip-audit queries) may be
unreachable from a CI runner or a sandbox. That is not a finding: the audit
then says so and exits 0. Any other pip-audit failure, and every
vulnerability it reports, fails the target.
"""
import subprocess  # nosec B404 - runs pip-audit from this venv, fixed arguments
import sys
import urllib.request
from pathlib import Path

SERVICE = "https://pypi.org/pypi/pip/json"
UNREACHABLE = ("ConnectionError", "Max retries exceeded", "NameResolutionError", "Temporary failure in name resolution",
               "timed out", "Network is unreachable")


def reachable(url: str = SERVICE, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # nosec B310 - fixed https URL
            return answer.status == 200
    except OSError:
        return False


def main() -> int:
    if not reachable():
        print(f"pip-audit skipped: the advisory service ({SERVICE}) is unreachable")
        return 0
    pip_audit = Path(sys.executable).with_name("pip-audit")
    result = subprocess.run(  # nosec B603 - fixed command, no shell
        [str(pip_audit), "--progress-spinner", "off", "--skip-editable"], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 and any(marker in output for marker in UNREACHABLE):
        print("pip-audit skipped: the advisory service became unreachable during the audit")
        return 0
    unaudited = output.count("could not be audited")
    if result.returncode == 0 and unaudited:
        # The service answered but did not know these packages (a mirror or
        # a stub of PyPI): say so in one line instead of a table.
        print(f"pip-audit: no known vulnerabilities; {unaudited} packages unknown to the advisory service "
              "were not audited")
        return 0
    print(output, end="")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
