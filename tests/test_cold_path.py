"""What each Lambda function imports at cold start (issue 6, item 4).

Both functions are packaged from `app.py`. The authorizer's Lambda
(`LATCHKEY_FUNCTION=authorizer`, set in .chalice/config.json) must import
only what a decision needs: no route modules, no services, no boto3, no S3
code. Checked in fresh interpreters, as a Lambda cold start would be.
"""

import json
import subprocess
import sys
from pathlib import Path

from scripts.ports import free_port
from tests.helpers import shell_environ

PROJECT_DIR = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import app
from chalicelib import token_format

def decide(token):
    arn = "arn:aws:execute-api:us-east-1:1:a/api/GET/x"
    event = {"type": "REQUEST", "methodArn": arn, "headers": {"api-token": token}}
    try:
        return app.token_authorizer(event, None)["policyDocument"]["Statement"][0]["Effect"]
    except Exception as error:
        return type(error).__name__

seen = {"import": sorted(sys.modules)}
seen["malformed"] = decide("lka_not-a-token")
seen["after_malformed"] = sorted(sys.modules)
seen["well_formed"] = decide(token_format.generate(token_format.Kind.ACCOUNT))
seen["after_well_formed"] = sorted(sys.modules)
print(json.dumps(seen))
"""


def probe(**env) -> dict:
    """Run PROBE in a fresh interpreter, as a Lambda function of this app."""
    environ = shell_environ(
        fake_aws=True,
        AWS_LAMBDA_FUNCTION_NAME="latchkey-dev-token_authorizer",
        AWS_MAX_ATTEMPTS="1",
        # Nothing listens there: the one read fails at once, after its imports.
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        **env,
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def forbidden(modules) -> list[str]:
    """Modules the authorizer has no use for."""
    return [
        name
        for name in modules
        if name.split(".")[0] in ("boto3", "s3transfer", "moto")
        or name.startswith(("chalicelib.api", "chalicelib.services"))
        or (name.startswith("chalicelib") and ("s3" in name or "upload" in name))
    ]


def test_cold_path_authorizer_imports_only_the_decision():
    seen = probe(LATCHKEY_FUNCTION="authorizer")
    assert seen["malformed"] == "Deny"
    # a malformed token loads nothing more: no PynamoDB, no store
    assert sorted(set(seen["after_malformed"]) - set(seen["import"])) == []
    assert "pynamodb" not in seen["after_malformed"]
    # a well-formed one loads the tokens store (its read fails here: no endpoint)
    assert seen["well_formed"] == "Unavailable"
    assert "chalicelib.store.tokens" in seen["after_well_formed"]
    assert forbidden(seen["after_well_formed"]) == []


def test_cold_path_api_import_loads_no_storage_library():
    seen = probe()
    assert "chalicelib.api.v3" in seen["import"]
    assert [m for m in seen["import"] if m.split(".")[0] in ("pynamodb", "boto3", "s3transfer")] == []
