"""The console's routes through chalice.test.Client (the local gateway runs
the real authorizer): sessions, CSRF, sign-in callback, what each role sees,
security headers. The browser walk is tests/test_console_browser.py."""
import dataclasses
import re
import subprocess
import sys
import urllib.parse
from datetime import timedelta

import pytest
import requests

from chalicelib import session_cookie
from chalicelib.settings import SettingsError, from_environ, get_settings
from tests.helpers import is_web_console
from tests.isolation_rows import CALLER_KINDS

REPO = "/console/gh/acme/widgets"


class Console:
    """A browser's view of the console: one cookie jar, HTML answers."""

    def __init__(self, client, secret=None):
        self.client = client
        self.cookies = {}
        if secret:
            self.cookies[session_cookie.SESSION_COOKIE] = secret

    def request(self, method, path, form=None, headers=None):
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        answer = self.client.http.request(method, path, headers=sent, body=body)
        for cookie in set_cookies(answer):
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, form=None, **kwargs):
        return self.request("POST", path, form=form, **kwargs)

    def csrf(self, path=REPO) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path).body.decode()).group(1)


def set_cookies(answer) -> list[str]:
    value = answer.headers.get("Set-Cookie") or answer.headers.get("set-cookie")
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text(answer) -> str:
    return answer.body.decode()


@pytest.fixture
def sessions(aws, root):
    return root.sessions


@pytest.fixture
def people(make, sessions):
    """Signed-in consoles for the admin, a `read` user and a `write` user of gh/acme/widgets."""
    make.repo("gh/acme/widgets")

    def person(email, role):
        make.user(email).grant("gh/acme/widgets", role)
        return sessions.start(make.admin.user(email)).secret

    return {role: person(f"{role}@example.com", role) for role in ("admin", "read", "write")}


def test_a_page_without_a_session_sends_the_browser_to_sign_in(client):
    answer = Console(client).get("/console/account/access-management")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/console/signin?next=%2Fconsole%2Faccount%2Faccess-management"


def test_a_garbage_or_unknown_session_cookie_is_sent_to_sign_in(client, make):
    assert Console(client, "garbage").get("/console/account").status_code == 303
    assert Console(client, session_cookie.new_secret()).get("/console/account").status_code == 303


def test_no_token_of_any_kind_opens_any_console_page(client, callers):
    """The console's row of the isolation matrix: every protected console route
    x every token caller: sent to sign in, never served."""
    from app import app

    routes = [(method, path) for path, methods in app.routes.items() for method, entry in methods.items()
              if is_web_console(path) and entry.authorizer is not None]
    assert len(routes) >= 15
    for method, route in routes:
        target = re.sub(r"\{[^}]+\}", "1", route.replace("{provider}", "gh").replace("{org}", "acme")
                        .replace("{repo}", "widgets"))
        for kind in CALLER_KINDS:
            answer = client.http.request(method, target, headers=callers.headers(kind), body=b"")
            assert answer.status_code == 303, (method, route, kind, answer.status_code)
            assert "/console/signin" in answer.headers["Location"]


def test_an_api_token_does_not_open_the_console_nor_a_session_the_api(client, make, people):
    token = make.user("tok@example.com").token()
    answer = client.http.get("/console/account", headers={"api-token": token})
    assert answer.status_code == 303  # the console knows sessions only
    cookie = f"{session_cookie.SESSION_COOKIE}={people['admin']}"
    answer = client.http.get("/api/v3/user", headers={"Cookie": cookie})
    assert answer.status_code == 401  # the API knows tokens only (no CSRF surface)


def test_security_headers_on_every_console_page(client, people):
    answer = Console(client, people["admin"]).get("/console/account")
    assert answer.status_code == 200
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    # No inline script, no inline event handler.
    assert not re.search(r"<script(?![^>]*\bsrc=)", text(answer))
    assert not re.search(r"<[^>]+\son[a-z]+=", text(answer))
    docs = client.http.get("/docs")
    assert docs.status_code == 200 and "unsafe-inline" not in docs.headers["Content-Security-Policy"]
    assert "swagger-ui-bundle.js" in text(docs) and not re.search(r"<script(?![^>]*\bsrc=)", text(docs))
    api = client.http.get("/openapi.json")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_assets_are_shipped_not_fetched(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "docs.css", "console.js", "console.css"):
        answer = client.http.get(f"/static/{name}")
        assert answer.status_code == 200 and len(answer.body) > 100, name
    assert client.http.get("/static/../app.py").status_code in (403, 404)
    assert client.http.get("/static/nothing.js").status_code == 404
    page = text(client.http.get("/docs"))
    assert "https://" not in page and "http://" not in page  # no CDN


def csrf_form(console, path, **fields):
    return {"csrf": console.csrf(path), **fields}


def test_creating_a_token_needs_the_session_csrf_token(client, people):
    console = Console(client, people["admin"])
    new = "/console/account/access-management/new"
    form = {"name": "laptop", "expiration": "7"}
    assert console.post(new, form).status_code == 403
    assert console.post(new, {**form, "csrf": "x" * 43}).status_code == 403
    good = csrf_form(console, new, **form)
    assert console.post(new, good, headers={"Origin": "https://evil.example"}).status_code == 403
    assert console.post(new, good, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    created = console.post(new, good, headers={"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"})
    assert created.status_code == 200, text(created)
    value = re.search(r'id="token-value"[^>]*value="(lka_[^"]+)"', text(created)).group(1)
    assert "will not be shown again" in text(created)
    # Anywhere else: only the hint.
    listing = text(console.get("/console/account/access-management"))
    assert "laptop" in listing and value not in listing and value[-4:] in listing
    assert value not in str(created.headers)


def test_the_form_says_what_is_wrong(client, people):
    console = Console(client, people["admin"])
    new = "/console/account/access-management/new"
    bad_name = console.post(new, csrf_form(console, new, name="no spaces", expiration="7"))
    assert bad_name.status_code == 400 and 'aria-invalid="true"' in text(bad_name)
    too_far = console.post(new, csrf_form(console, new, name="far", expiration="custom", custom_date="2999-01-01"))
    assert too_far.status_code == 400 and "at most 365 days" in text(too_far)
    console.post(new, csrf_form(console, new, name="twice", expiration="never"))
    again = console.post(new, csrf_form(console, new, name="twice", expiration="never"))
    assert again.status_code == 409 and "already exists" in text(again)


def test_revoking_asks_first_then_the_token_is_gone(client, make, people, api):
    console = Console(client, people["admin"])
    new = "/console/account/access-management/new"
    created = text(console.post(new, csrf_form(console, new, name="old", expiration="30")))
    value = re.search(r'value="(lka_[^"]+)"', created).group(1)
    token_id = re.search(r'/access-management/(\d+)/revoke', text(console.get(new.rsplit("/", 1)[0]))).group(1)
    path = f"/console/account/access-management/{token_id}/revoke"
    confirm = console.get(path)
    assert confirm.status_code == 200 and ">Revoke</button>" in text(confirm)
    assert api.get("/api/v3/user", value)[0] == 200
    assert console.post(path, {}).status_code == 403  # no CSRF token
    done = console.post(path, csrf_form(console, path))
    assert done.status_code == 303 and done.headers["Location"].endswith("?revoked=old")
    assert api.get("/api/v3/user", value) == (404, {"error": "not found"})
    # Someone else's token id is not found, not revocable.
    other = Console(client, people["read"])
    assert other.get(path).status_code == 404


def test_read_and_write_users_see_integrations_without_management_controls(client, make, people):
    make.project_token("gh/acme/widgets", name="ci")
    for role in ("read", "write"):
        console = Console(client, people[role])
        page = text(console.get(REPO + "/settings/integrations"))
        assert "ci" in page and "Settings of ci" in page
        assert "Add integration" not in page and "Delete ci" not in page
        token_id = re.search(r"/settings/integrations/(\d+)", page).group(1)
        details = text(console.get(f"{REPO}/settings/integrations/{token_id}"))
        assert "Delete ci" not in details
        assert console.get(REPO + "/settings/integrations/new").status_code == 403
        create = REPO + "/settings/integrations/new/project-api"
        assert console.post(create, {"csrf": console.csrf(), "name": "x", "expiration": "7"}).status_code == 403
        assert console.get(f"{REPO}/settings/integrations/{token_id}/delete").status_code == 403
    admin = text(Console(client, people["admin"]).get(REPO + "/settings/integrations"))
    assert "Add integration" in admin and "Delete ci" in admin


def test_project_token_flow_for_an_admin(client, people, api):
    console = Console(client, people["admin"])
    create = REPO + "/settings/integrations/new/project-api"
    assert "Project API" in text(console.get(REPO + "/settings/integrations/new"))
    created = console.post(create, csrf_form(console, create, name="uploads", expiration="90"))
    value = re.search(r'value="(lkp_[^"]+)"', text(created)).group(1)
    assert api.get("/api/v3/organizations/gh/acme/repositories/widgets", value)[0] == 200
    page = text(console.get(REPO + "/settings/integrations"))
    token_id = re.search(r"/settings/integrations/(\d+)/delete", page).group(1)
    delete = f"{REPO}/settings/integrations/{token_id}/delete"
    assert ">Delete</button>" in text(console.get(delete))
    assert console.post(delete, csrf_form(console, delete)).status_code == 303
    assert api.get("/api/v3/organizations/gh/acme/repositories/widgets", value) == (404, {"error": "not found"})


def test_repositories_show_only_what_the_user_may_see(client, make, people):
    make.repo("gh/acme/secret")
    console = Console(client, people["read"])
    org = text(console.get("/console/gh/acme"))
    assert "widgets" in org and "secret" not in org
    assert console.get("/console/gh/acme/secret").status_code == 404
    assert console.get("/console/gh/acme/secret/settings/integrations").status_code == 404
    assert console.get("/console/gh/nowhere").status_code == 404
    assert "gh/acme" in text(console.get("/console/account"))


def test_sign_out_ends_the_session_server_side(client, people):
    console = Console(client, people["admin"])
    secret = people["admin"]
    answer = console.post("/console/signout", {"csrf": console.csrf()})
    assert answer.status_code == 200 and "Signed out" in text(answer)
    assert session_cookie.SESSION_COOKIE not in console.cookies
    # The old cookie, replayed, is dead.
    assert Console(client, secret).get("/console/account").status_code == 303


def test_disabling_a_user_ends_their_sessions_at_once(client, admin, people):
    assert Console(client, people["write"]).get("/console/account").status_code == 200
    admin.disable_user("write@example.com")
    assert Console(client, people["write"]).get("/console/account").status_code == 303


# -- signing in through a real provider on 127.0.0.1 --------------------------------------

@pytest.fixture
def provider(tmp_path, aws, root):
    """The development provider, and the console's sessions pointed at it."""
    from chalicelib.oidc import discover
    from chalicelib.services.sessions import SessionService
    from scripts.local_idp import LocalIdP

    idp = LocalIdP(tmp_path / "idp.pem", 0, client_id="latchkey-console").start()
    settings = dataclasses.replace(get_settings(), oidc_issuer=idp.issuer, oidc_client_id="latchkey-console")
    root.sessions = SessionService(root.session_store, root.directory_store, settings)
    discover.cache_clear()
    yield idp
    idp.stop()
    discover.cache_clear()


def sign_in(client, idp, email, next_path="/console/account"):
    console = Console(client)
    start = console.get("/console/signin?" + urllib.parse.urlencode({"next": next_path}))
    assert start.status_code == 302
    authorize = start.headers["Location"]
    assert authorize.startswith(idp.issuer + "/authorize?")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert params["code_challenge_method"] == "S256" and params["state"] and params["nonce"]
    assert params["redirect_uri"].endswith("/console/callback")
    answer = requests.post(idp.issuer + "/authorize", data={**params, "email": email}, allow_redirects=False,
                           timeout=10)
    callback = urllib.parse.urlsplit(answer.headers["Location"])
    return console, f"{callback.path}?{callback.query}"


def test_sign_in_with_the_provider_gives_a_session(client, make, provider):
    make.repo("gh/acme/widgets")
    make.user("alice@example.com").grant("gh/acme/widgets", "read")
    console, callback = sign_in(client, provider, "Alice@Example.com", next_path=REPO)
    done = console.get(callback)
    assert done.status_code == 303 and done.headers["Location"] == REPO
    cookie = next(c for c in set_cookies(done) if c.startswith(session_cookie.SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age" not in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1; over https it is Secure
    assert console.get(REPO).status_code == 200
    # The same callback again (a replayed code or a stolen URL) signs nobody in.
    replay = Console(client)
    replay.cookies = {k: v for k, v in console.cookies.items() if k != session_cookie.SESSION_COOKIE}
    assert replay.get(callback).status_code == 400


def test_the_callback_needs_this_browsers_sign_in_and_state(client, make, provider):
    make.user("alice@example.com")
    console, callback = sign_in(client, provider, "alice@example.com")
    assert Console(client).get(callback).status_code == 400  # another browser (no sign-in cookie)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    assert console.get(forged).status_code == 400
    assert session_cookie.SESSION_COOKIE not in console.cookies


@pytest.mark.parametrize("who", ["stranger", "disabled"])
def test_an_unknown_or_disabled_user_gets_no_access_and_no_session(client, make, admin, provider, who):
    make.user("disabled@example.com")
    admin.disable_user("disabled@example.com")
    console, callback = sign_in(client, provider, f"{who}@example.com")
    answer = console.get(callback)
    assert answer.status_code == 403 and "No access" in text(answer)
    assert session_cookie.SESSION_COOKIE not in console.cookies
    assert console.get("/console/account").status_code == 303


def test_next_is_a_console_path_of_this_site_only():
    from chalicelib.services.sessions import safe_next

    assert safe_next("/console/gh/a/b") == "/console/gh/a/b"
    for hostile in ("//evil.example", "https://evil.example/console", "/console//evil.example", "/api/v3/user",
                    "/console\\evil", None):
        assert safe_next(hostile) == "/console/account"


# -- the development provider is for development --------------------------------------------

def test_prod_settings_refuse_a_provider_on_this_machine():
    for issuer in ("http://127.0.0.1:8001", "https://localhost:8443"):
        with pytest.raises(SettingsError, match="prod"):
            from_environ({"LATCHKEY_STAGE": "prod", "OIDC_ISSUER": issuer})
    with pytest.raises(SettingsError, match="https"):
        from_environ({"LATCHKEY_STAGE": "dev", "OIDC_ISSUER": "http://idp.example.com"})
    assert from_environ({"LATCHKEY_STAGE": "dev", "OIDC_ISSUER": "http://127.0.0.1:8001/"}).oidc_issuer \
        == "http://127.0.0.1:8001"
    assert from_environ({"LATCHKEY_STAGE": "prod", "OIDC_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/x"})


@pytest.mark.slow
def test_make_run_refuses_to_start_prod_pointed_at_the_development_provider(tmp_path):
    from scripts.ports import free_port
    from tests.localserver import PROJECT_DIR

    env = {"PATH": "/usr/bin:/bin", "LATCHKEY_STATE_FILE": str(tmp_path / "state.json"),
           "PORT": str(free_port()), "LOCAL_AWS_PORT": str(free_port()), "LOCAL_IDP_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "scripts/run_local.py", "--stage", "prod"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "development provider" in result.stderr and "prod" in result.stderr
    assert "Serving on" not in result.stdout


# -- the authorizer's side -----------------------------------------------------------------------

class CountingSessions:
    def __init__(self, store):
        self.store, self.reads = store, 0

    def find(self, digest):
        self.reads += 1
        return self.store.find(digest)

    def touch(self, session, now):
        return self.store.touch(session, now)


def console_event(secret=None):
    headers = {"Cookie": f"{session_cookie.SESSION_COOKIE}={secret}"} if secret else {}
    return {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/api/GET/console/account",
            "resource": "/console/account", "path": "/console/account", "headers": headers}


def test_a_console_request_costs_the_authorizer_one_read(people, make):
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.refusals import SIGN_IN
    from chalicelib.store.sessions import SessionStore
    from chalicelib.wiring import Root

    counting = CountingSessions(SessionStore())
    authorizer = TokenAuthorizer(Root(session_store=counting))
    allowed = authorizer(console_event(people["admin"]))
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert allowed["context"]["userId"] == str(make.admin.user("admin@example.com").user_id)
    assert allowed["context"]["csrf"] and counting.reads == 1
    assert authorizer(console_event("not-a-session"))["context"] == {"denial": SIGN_IN.code}
    assert counting.reads == 1  # malformed: no read
    assert authorizer(console_event())["context"] == {"denial": SIGN_IN.code}


def test_sessions_expire_when_idle_and_at_their_absolute_limit(people):
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.clock import utcnow
    from chalicelib.refusals import SIGN_IN
    from chalicelib.wiring import Root

    settings = get_settings()
    later = utcnow() + timedelta(minutes=settings.session_idle_minutes, seconds=1)
    idle = TokenAuthorizer(Root(clock=lambda: later))
    assert idle(console_event(people["admin"]))["context"] == {"denial": SIGN_IN.code}
    # Active all along (touched every few minutes), it still ends at the absolute limit.
    moments = [utcnow() + timedelta(minutes=m) for m in range(0, settings.session_max_hours * 60 + 5, 30)]
    for moment in moments:
        decision = TokenAuthorizer(Root(clock=lambda moment=moment: moment))(console_event(people["read"]))
        alive = decision["policyDocument"]["Statement"][0]["Effect"] == "Allow" and "denial" not in decision["context"]
        if moment - moments[0] >= timedelta(hours=settings.session_max_hours):
            assert not alive
        else:
            assert alive, moment


def test_an_active_session_moves_its_idle_limit_on(people):
    """The authorizer's touch really writes (a failed touch would end sessions early)."""
    from chalicelib.authorizer import TokenAuthorizer
    from chalicelib.clock import utcnow
    from chalicelib.models.sessions import Session
    from chalicelib.wiring import Root

    idle = timedelta(minutes=get_settings().session_idle_minutes)
    start = utcnow()
    for step in range(1, 4):  # three idle periods, a request just before each ends
        moment = start + step * (idle - timedelta(minutes=1))
        decision = TokenAuthorizer(Root(clock=lambda moment=moment: moment))(console_event(people["admin"]))
        assert "denial" not in decision["context"], step
    stored = Session.get(Session.key(session_cookie.digest(people["admin"])))
    assert stored.last_seen_at > start + 2 * idle - timedelta(minutes=3)


def test_lists_mark_expired_tokens(client, make, people):
    from chalicelib.clock import utcnow
    from chalicelib.models.tokens import Token
    from chalicelib.token_format import digest

    value = make.project_token("gh/acme/widgets", name="stale")
    Token.get(digest(value)).update(actions=[Token.expires_at.set(utcnow() - timedelta(days=1))])
    make.project_token("gh/acme/widgets", name="fresh", expires_at=(utcnow() + timedelta(days=3)).isoformat())
    page = text(Console(client, people["read"]).get(REPO + "/settings/integrations"))
    stale_row = re.search(r"<tr><th scope=\"row\">stale</th>.*?</tr>", page).group(0)
    fresh_row = re.search(r"<tr><th scope=\"row\">fresh</th>.*?</tr>", page).group(0)
    assert "Expired" in stale_row and "Expired" not in fresh_row


def test_names_with_dots_and_dashes_are_linked_as_one_segment(client, make, sessions):
    """Names are `A-Za-z0-9._-` (chalicelib.names): each is linked as it is,
    one path segment, and the page it links to opens."""
    make.repo("gh/acme/.github-config_2")
    make.user("odd@example.com").grant("gh/acme/.github-config_2", "read")
    console = Console(client, sessions.start(make.admin.user("odd@example.com")).secret)
    org = text(console.get("/console/gh/acme"))
    assert 'href="/console/gh/acme/.github-config_2"' in org
    assert console.get("/console/gh/acme/.github-config_2").status_code == 200


def test_the_public_console_routes_answer_every_token_caller_alike(client, callers):
    """The web console's public routes (sign-in, callback, /docs, assets) ignore
    tokens: the same answer whoever calls."""
    for path, expected in (("/console/signin", (302, 503)), ("/console/callback", (400,)), ("/docs", (200,)),
                           ("/static/console.js", (200,))):
        statuses = {client.http.get(path, headers=callers.headers(kind)).status_code for kind in ("none", "garbage",
                    "read", "org_admin", "own_project", "two_tokens")}
        assert len(statuses) == 1 and statuses <= set(expected), (path, statuses)


def test_integration_settings_show_the_tokens_lifecycle(client, make, people):
    """Issue 16's settings appear in the token's details: scopes, networks, uses, state."""
    make.project_token("gh/acme/widgets", name="scoped", scopes=["coverage:write"],
                       allowed_cidrs=["10.0.0.0/8"], max_uses=5)
    make.project_token("gh/acme/widgets", name="plain")
    console = Console(client, people["read"])
    page = text(console.get(REPO + "/settings/integrations"))
    ids = dict(re.findall(r'/settings/integrations/(\d+)"[^>]*>\s*<button[^>]*aria-label="Settings of (\w+)"', page))
    found = {name: token_id for token_id, name in ids.items()}
    scoped = text(console.get(f"{REPO}/settings/integrations/{found['scoped']}"))
    assert "<dt>Scopes</dt><dd>coverage:write</dd>" in scoped
    assert "<dt>Allowed networks</dt><dd>10.0.0.0/8</dd>" in scoped
    assert "<dt>Uses</dt><dd>0 of 5</dd>" in scoped and "<dt>State</dt><dd>active</dd>" in scoped
    plain = text(console.get(f"{REPO}/settings/integrations/{found['plain']}"))
    assert "<dt>Scopes</dt><dd>coverage:write, analysis:write, repository:read</dd>" in plain
    assert "<dt>Allowed networks</dt><dd>any</dd>" in plain and "<dt>Uses</dt><dd>unlimited</dd>" in plain
