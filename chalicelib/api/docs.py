"""The API's own description: `GET /openapi.json`, public.

The document lives next to the code (`chalicelib/openapi.json`) and the
tests hold the two together (`tests/test_contract.py`). It is read on the
first request only: neither Lambda pays for it at cold start.
"""
import functools
import json
from pathlib import Path

from chalicelib.api.http import ApiBlueprint, json_response

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"

api = ApiBlueprint(__name__)


@functools.lru_cache(maxsize=1)
def document() -> dict:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@api.route("/openapi.json", methods=["GET"], public=True)
def openapi():
    return json_response(document())
