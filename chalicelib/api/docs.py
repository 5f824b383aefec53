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


# -- human-readable documentation and the console's assets ----------------------

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
# name -> (file, content type). Swagger UI comes from its PyPI bundle,
# installed with the service: no CDN, works offline and under the CSP.
ASSETS = {
    "console.css": (lambda: STATIC / "console.css", "text/css; charset=utf-8"),
    "console.js": (lambda: STATIC / "console.js", "text/javascript; charset=utf-8"),
    "docs.js": (lambda: STATIC / "docs.js", "text/javascript; charset=utf-8"),
    "docs.css": (lambda: STATIC / "docs.css", "text/css; charset=utf-8"),
    "swagger-ui.css": (lambda: _swagger() / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (lambda: _swagger() / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
}


def _swagger() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@functools.lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> str:
    locate, _ = ASSETS[name]
    return locate().read_text(encoding="utf-8")


@api.route("/docs", methods=["GET"], public=True)
def docs_page():
    from chalice import Response

    from chalicelib.api.console import base_path
    from chalicelib.console.pages import docs

    return Response(body=docs(base_path(api.current_request)), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8"})


@api.route("/static/{name}", methods=["GET"], public=True)
def static_asset(name):
    from chalice import Response

    if name not in ASSETS:
        return json_response({"error": "not found"}, 404)
    return Response(body=asset(name), status_code=200,
                    headers={"Content-Type": ASSETS[name][1], "Cache-Control": "public, max-age=3600"})
