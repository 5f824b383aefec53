"""The web console in a real browser: Playwright driving Debian's Chromium
(`make test` installs it), against `make run`'s whole service and its
development OpenID Connect provider.

Both token flows end to end (sign in, create, copy, use over HTTP, revoke,
`{"error":"not found"}` on the next call), keyboard only where it counts;
a `read` user sees no management controls; a stranger gets "No access".
axe-core runs on every page (no serious or critical violation) and every
page must load without a Content-Security-Policy violation. Screenshots of
each page go to docs/console/ (shown in the README) when UPDATE_SCREENSHOTS=1,
elsewhere to build/console-screenshots/ (a test run leaves the tree as it was).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import shell_environ
from tests.localserver import PROJECT_DIR, LocalServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.e2e]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = PROJECT_DIR / ("docs/console" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "build/console-screenshots")
READER = "reader@example.com"
CHECKED: set[str] = set()  # kinds of page axe has passed


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    server = LocalServer(tmp_path_factory.mktemp("console") / "state.json").start()
    env = shell_environ(LOCAL_AWS_PORT=str(server.aws_port))
    # What `manage.py create-user` and `grant` do, in one process (one start-up, not two).
    seed = ("from scripts import stage_env; stage_env.configure('dev', local=True); "
            "from chalicelib.wiring import root; a = root().admin; "
            f"a.create_user({READER!r}, 'Reader'); a.grant({READER!r}, 'gh/demo/hello', 'read')")
    subprocess.run([sys.executable, "-c", seed], cwd=PROJECT_DIR, env=env, check=True, capture_output=True,
                   timeout=60)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


class Visit:
    """One browser context (one person), checking every page it lands on."""

    def __init__(self, browser, service):
        self.service = service
        self.context = browser.new_context(base_url=service.url, viewport={"width": 1100, "height": 800})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.url)
        # axe-core arrives through the DevTools protocol, which the page's
        # CSP does not govern: the CSP under test stays what it is.
        self.context.add_init_script(script=axe_source())
        self.page = self.context.new_page()
        self.csp_violations: list[str] = []
        self.page.on("console", lambda message: self.csp_violations.append(message.text)
                     if "Content Security Policy" in message.text else None)

    def check(self, shot: str | None = None) -> None:
        """No serious/critical axe violation, no CSP violation; a screenshot.

        axe runs once per kind of page (its path with ids and the query
        erased): the same page again with other rows adds time, not checks."""
        self.page.wait_for_load_state("load")
        assert not self.csp_violations, self.csp_violations
        kind = re.sub(r"/\d+(?=/|$)", "/{id}", self.page.url.split("?")[0].split(":", 2)[-1].split("/", 1)[-1])
        if kind not in CHECKED:
            results = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in results["violations"] if v["impact"] in ("serious", "critical")]
            assert not bad, f"axe on {self.page.url}: {bad}"
            CHECKED.add(kind)
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)

    def sign_in(self, email: str, path: str = "/console/account", shot: str | None = None) -> None:
        self.page.goto(path)
        assert self.page.url.startswith(f"http://127.0.0.1:{self.service.idp_port}/authorize")
        self.check(shot)
        self.page.get_by_label("Email").fill(email)
        with self.page.expect_navigation(url=lambda url: url.startswith(self.service.url)):
            self.page.get_by_role("button", name="Sign in").click()

    def tab_to(self, name: str, limit: int = 60) -> None:
        """Press Tab until the control named `name` has the focus (keyboard only)."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            focused = self.page.evaluate(
                "() => { const e = document.activeElement; return e ? "
                "(e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent) "
                "|| e.textContent || '').trim() : '' }")
            if focused == name:
                return
        raise AssertionError(f"{name!r} is not reachable with Tab on {self.page.url}")

    def press_and_load(self, key: str = "Enter") -> None:
        """Press `key` on the focused control and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def focused_id(self) -> str:
        return self.page.evaluate("() => document.activeElement && document.activeElement.id")

    def stored_anywhere(self, value: str) -> bool:
        """Whether `value` is in the URL, a cookie or web storage."""
        storage = self.page.evaluate("() => JSON.stringify([Object.entries(localStorage), "
                                     "Object.entries(sessionStorage)])")
        cookies = str(self.context.cookies())
        return value in self.page.url or value in storage or value in cookies

    def assert_copied(self, value: str) -> None:
        """After Copy: the page says so, the clipboard holds `value`, and
        neither the URL, a cookie nor web storage does."""
        self.page.get_by_text("Copied to the clipboard.").wait_for()
        assert self.page.evaluate("() => navigator.clipboard.readText()") == value
        assert not self.stored_anywhere(value)

    def close(self) -> None:
        self.context.close()


def api_call(service, path: str, token: str):
    header = "project-token" if token.startswith("lkp_") else "api-token"
    return service.request("GET", path, headers={header: token})


def assert_gone(service, path: str, token: str) -> None:
    """The very next call with the revoked `token` gets 404 {"error":"not found"}."""
    answer = api_call(service, path, token)
    assert (answer.status_code, answer.json()) == (404, {"error": "not found"})


def test_account_api_tokens_end_to_end_keyboard_only(browser, service):
    visit = Visit(browser, service)
    visit.sign_in("demo@example.com", shot="sign-in")
    assert visit.page.url == service.url + "/console/account"
    visit.check("account")
    visit.page.get_by_role("link", name="Access management").click()
    visit.check()
    # From here on, keyboard only.
    visit.tab_to("Create API token")
    visit.page.keyboard.press("Enter")
    visit.page.wait_for_url("**/access-management/new?")
    visit.check("create-api-token")
    visit.tab_to("Name")
    visit.page.keyboard.type("browser-laptop")
    visit.tab_to("Expiration")
    visit.page.keyboard.press("ArrowUp")  # 30 days (the default) -> 7 days
    visit.tab_to("Create")
    visit.press_and_load()
    assert visit.page.get_by_text("it will not be shown again").is_visible()
    assert visit.focused_id() == "token-value"  # focus on the new value
    value = visit.page.get_by_label("Token value of browser-laptop").input_value()
    assert value.startswith("lka_")
    visit.check("api-token-created")
    visit.tab_to("Copy")
    visit.page.keyboard.press("Enter")
    visit.assert_copied(value)

    assert api_call(service, "/api/v3/user", value).json()["data"]["mainEmail"] == "demo@example.com"

    visit.page.get_by_role("link", name="Back to your API tokens").click()
    visit.check("access-management")
    assert value not in visit.page.content()  # the list shows the hint only
    row = visit.page.get_by_role("row", name="browser-laptop")
    assert "Never" not in row.inner_text()  # "last used": the HTTP call above
    visit.tab_to("Revoke browser-laptop")
    visit.page.keyboard.press("Enter")
    visit.page.wait_for_url("**/revoke?")
    visit.check("revoke-api-token")
    visit.page.get_by_role("button", name="Revoke", exact=True).press("Enter")
    visit.page.wait_for_url("**/access-management?revoked=browser-laptop")
    assert visit.page.get_by_role("row", name="browser-laptop").count() == 0

    assert_gone(service, "/api/v3/user", value)
    visit.close()


def test_project_api_tokens_end_to_end(browser, service):
    visit = Visit(browser, service)
    visit.sign_in("demo@example.com", path="/console/gh/demo/hello")
    assert visit.page.url == service.url + "/console/gh/demo/hello"
    visit.check("repository")
    visit.page.get_by_role("link", name="Settings").click()
    visit.check()
    visit.page.get_by_role("link", name="Integrations").click()
    visit.check()
    visit.page.get_by_role("button", name="Add integration").click()
    visit.check("add-integration")
    visit.page.get_by_role("button", name="Project API").click()
    visit.check()
    visit.page.get_by_label("Name").fill("ci-uploads")
    visit.page.get_by_label("Expiration").select_option(label="No expiration")
    with visit.page.expect_navigation():
        visit.page.get_by_role("button", name="Create").click()
    assert visit.focused_id() == "token-value"
    value = visit.page.get_by_label("Token value of ci-uploads").input_value()
    assert value.startswith("lkp_")
    visit.check("project-api-token-created")
    visit.page.get_by_role("button", name="Copy").click()
    visit.assert_copied(value)

    answer = api_call(service, "/api/v3/organizations/gh/demo/repositories/hello", value)
    assert answer.status_code == 200 and answer.json()["data"]["name"] == "hello"

    visit.page.get_by_role("link", name="Back to integrations").click()
    visit.check("integrations")
    assert value not in visit.page.content()
    visit.page.get_by_role("button", name="Settings of ci-uploads").click()
    visit.check("integration-settings")
    assert "No expiration" in visit.page.content() and value not in visit.page.content()
    visit.page.get_by_role("button", name="Delete ci-uploads").click()
    visit.check()
    visit.page.get_by_role("button", name="Delete", exact=True).click()
    visit.page.wait_for_url("**/integrations?deleted=ci-uploads")
    assert visit.page.get_by_role("button", name="Delete ci-uploads").count() == 0

    assert_gone(service, "/api/v3/organizations/gh/demo/repositories/hello", value)
    visit.close()


def test_read_user_sees_integrations_without_management_controls(browser, service):
    visit = Visit(browser, service)
    visit.sign_in(READER, path="/console/gh/demo/hello/settings/integrations")
    visit.check("integrations-read-only")
    # The demo repository's own integration is listed ...
    assert visit.page.get_by_role("row", name="demo").count() == 1
    # ... with no add, delete or edit control.
    assert visit.page.get_by_role("button", name="Add integration").count() == 0
    assert visit.page.get_by_role("button", name="Delete demo").count() == 0
    visit.page.get_by_role("button", name="Settings of demo").click()
    visit.check()
    assert visit.page.get_by_role("button", name="Delete demo").count() == 0
    # Going to a management page by its address is refused.
    answer = visit.page.goto("/console/gh/demo/hello/settings/integrations/new/project-api")
    assert answer.status == 403
    visit.check()
    # Organizations and repositories are browsable from the account.
    visit.page.goto("/console/account")
    visit.page.get_by_role("link", name="gh/demo").click()
    visit.check("organization")
    visit.page.get_by_role("link", name="hello").click()
    assert visit.page.url.endswith("/console/gh/demo/hello")
    # Signing out ends the session server-side.
    visit.page.get_by_role("button", name="Sign out").click()
    visit.check("signed-out")
    visit.page.goto("/console/account")
    assert visit.page.url.startswith(f"http://127.0.0.1:{service.idp_port}/authorize")
    visit.close()


def test_stranger_gets_no_access_and_no_session(browser, service):
    visit = Visit(browser, service)
    visit.sign_in("stranger@example.com")
    assert visit.page.get_by_role("heading", name="No access").is_visible()
    visit.check("no-access")
    assert not [c for c in visit.context.cookies() if c["name"] == "latchkey_session"]
    visit.close()


def test_api_documentation_renders_offline_under_the_csp(browser, service):
    visit = Visit(browser, service)
    visit.page.goto("/docs")
    visit.page.locator(".swagger-ui .info").wait_for()
    assert "latchkey" in visit.page.locator(".swagger-ui .info").inner_text().lower()
    visit.check("api-documentation")
    visit.close()
