"""Security headers on every answer of the API and the console.

HTML pages get a strict Content-Security-Policy: scripts, styles and
images from this origin only (no inline script), forms posting to this
origin only, never framed. JSON answers get `default-src 'none'`.
"""

HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def headers_for(content_type: str, path: str) -> dict[str, str]:
    headers = dict(COMMON)
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = HTML_CSP
    elif not content_type.startswith(("text/css", "text/javascript")):
        headers["Content-Security-Policy"] = JSON_CSP
    if path.startswith(("/console", "/api/", "/2.0")):
        # Nothing a page or an answer says is cached: token lists, a new token's value.
        headers["Cache-Control"] = "no-store"
    return headers


def security_headers(event, get_response):
    """Chalice middleware (all HTTP routes)."""
    response = get_response(event)
    content_type = ""
    for name, value in (response.headers or {}).items():
        if name.lower() == "content-type":
            content_type = str(value)
    for name, value in headers_for(content_type, event.path or "").items():
        response.headers.setdefault(name, value)
    return response
