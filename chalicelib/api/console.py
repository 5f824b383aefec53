"""The web console's routes: HTML pages, signing in with OpenID Connect.

Every console page sits behind the same Lambda authorizer as the API; for
`/console...` it reads the session cookie (one read) instead of a token
and hands the route the user and the session's CSRF token. Pages without
a live session send the browser to `/console/signin`, which starts the
authorization code flow; `/console/callback` finishes it.

Every state-changing request is a POST carrying the session's CSRF token
(and, when the browser sends them, a same-origin `Origin` and
`Sec-Fetch-Site`). A token's value is only ever in the answer to the POST
that created it: never in a URL, a redirect, a cookie or another page.
"""
import functools
import hmac
import logging
import urllib.parse
from datetime import datetime, time, timedelta, timezone

from chalice import Blueprint, Response

from chalicelib import refusals, session_cookie
from chalicelib.api.gateway import TOKEN_AUTHORIZER
from chalicelib.api.http import request_id, request_meta
from chalicelib.console import pages
from chalicelib.errors import BadRequest, Conflict, Forbidden, LatchkeyError, NotFound, status_of
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings
from chalicelib.wiring import root

log = logging.getLogger("latchkey")

api = Blueprint(__name__)

# A GET without a body is labelled application/json by Chalice; forms post urlencoded.
FORM = ["application/x-www-form-urlencoded", "application/json"]
MAX_FORM_BYTES = 8 * 1024
ACCOUNT = "/console/account"
ACCESS = ACCOUNT + "/access-management"
REPOSITORY = "/console/{provider}/{org}/{repo}"
INTEGRATIONS = REPOSITORY + "/settings/integrations"


def services():
    """(TokenService, DirectoryService, SessionService), from the composition root."""
    return root().tokens, root().directory, root().sessions


# -- the request ---------------------------------------------------------------

def _header(request, name: str) -> str | None:
    for key, value in (request.headers or {}).items():
        if key.lower() == name:
            return value
    return None


def base_path(request) -> str:
    """The stage prefix in front of every path: "/<stage>" on an execute-api
    host, nothing locally or on a custom domain (or CONSOLE_URL's path)."""
    settings = get_settings()
    if settings.console_url:
        return urllib.parse.urlsplit(settings.console_url).path.rstrip("/")
    host = (_header(request, "host") or "").lower()
    stage = (request.context or {}).get("stage")
    return f"/{stage}" if host.endswith(".amazonaws.com") and stage else ""


def origin(request) -> str:
    settings = get_settings()
    if settings.console_url:
        parts = urllib.parse.urlsplit(settings.console_url)
        return f"{parts.scheme}://{parts.netloc}"
    proto = (_header(request, "x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{proto}://{_header(request, 'host') or '127.0.0.1'}"


def secure(request) -> bool:
    return origin(request).startswith("https://")


def form(request) -> dict[str, str]:
    raw = request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise BadRequest("form: too large")
    try:
        parsed = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("form: not a form") from None
    return {key: values[-1] for key, values in parsed.items()}


def html(body: str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})})


def redirect(location: str, headers: dict | None = None, status: int = 303) -> Response:
    return Response(body="", status_code=status, headers={"Location": location, **(headers or {})})


def context_of(request) -> dict:
    return (request.context or {}).get("authorizer") or {}


def check_csrf(request, sent: str | None) -> None:
    """A POST from one of our own pages, or Forbidden."""
    expected = context_of(request).get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("this form has expired or did not come from latchkey; reload the page and try again")
    fetch_site = _header(request, "sec-fetch-site")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        raise Forbidden("cross-site request refused")
    sent_origin = _header(request, "origin")
    if sent_origin and sent_origin != "null" and sent_origin != origin(request):
        raise Forbidden("cross-site request refused")


class Page:
    """What a signed-in page view gets: the principal, its page context, its form."""

    def __init__(self, request):
        from chalicelib.access import Principal

        self.request = request
        context = context_of(request)
        self.principal = Principal.from_context(context)
        self.session = context.get("session", "")
        self.form = form(request) if request.method == "POST" else {}
        if request.method == "POST":
            check_csrf(request, self.form.get("csrf"))
        _tokens, directory, _ = services()
        self.user = directory.user(self.principal)  # NotFound when disabled: no access
        self.ctx = pages.Ctx(base=base_path(request), csrf=context.get("csrf"), user_name=self.user.name,
                             now=datetime.now(timezone.utc))

    def go(self, path: str) -> Response:
        return redirect(self.ctx.url(path))


def page(path: str, methods=("GET",)):
    """A signed-in console page at `path`."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(**params):
            request = api.current_request
            context = context_of(request)
            ctx = pages.Ctx(base=base_path(request))
            if context.get("denial") == refusals.SIGN_IN.code or "kind" not in context:
                next_path = request.path if request.method == "GET" else ACCOUNT
                query = urllib.parse.urlencode({"next": _concrete(next_path, request)})
                return redirect(ctx.url("/console/signin?" + query))
            try:
                here = Page(request)
                return view(here, **params)
            except NotFound as error:
                if "kind" in context and str(error.message) == NotFound.default_message:
                    return html(pages.error(ctx, 404, "There is nothing here, or you may not see it."), 404)
                return html(pages.error(ctx, 404, error.message), 404)
            except LatchkeyError as error:
                status = status_of(error)
                return html(pages.error(ctx, status, error.message), status)
            except Exception:
                rid = request_id(api)
                log.exception("unhandled error in console %s %s (request %s)", request.method, path, rid)
                return html(pages.error(ctx, 500, f"Something went wrong (request {rid})."), 500)

        api.route(path, methods=list(methods), authorizer=TOKEN_AUTHORIZER,
                  content_types=FORM)(wrapped)
        return view

    return decorator


def _concrete(path: str, request) -> str:
    for name, value in (request.uri_params or {}).items():
        path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
    return path


def expiry(values: dict, now: datetime) -> str | None:
    """The form's Expiration as `expiresAt` (ISO-8601), None for no expiration."""
    choice = values.get("expiration", "")
    if choice == "never":
        return None
    if choice in ("7", "30", "90"):
        return (now + timedelta(days=int(choice))).isoformat()
    if choice == "custom":
        raw = values.get("custom_date", "")
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            raise BadRequest("expiresAt: choose a custom date", field="expiresAt") from None
        return datetime.combine(day, time(0, 0), tzinfo=timezone.utc).isoformat()
    raise BadRequest("expiresAt: choose an expiration", field="expiresAt")


def _create(here: Page, create, render_form, render_created) -> Response:
    """Run a token creation from a form: the created page, or the form again with the problem."""
    values = here.form
    name = values.get("name", "").strip()
    try:
        if not name:
            raise BadRequest("name: give the token a name", field="name")
        created = create(name=name, expires_at=expiry(values, here.ctx.now or datetime.now(timezone.utc)))
    except (BadRequest, Conflict) as problem:
        message = problem.message.split(": ", 1)[-1] if problem.field else problem.message
        return html(render_form(error=message[:1].upper() + message[1:], field_name=problem.field or "name",
                                values=values), status_of(problem))
    return html(render_created(created), 200)


# -- signing in and out ------------------------------------------------------------

@api.route("/console/signin", methods=["GET"])
def sign_in():
    request = api.current_request
    _, _, sessions = services()
    ctx = pages.Ctx(base=base_path(request))
    redirect_uri = origin(request) + ctx.url("/console/callback")
    try:
        query: dict = dict(request.query_params or {})
        started = sessions.begin(redirect_uri=redirect_uri, next_path=query.get("next"))
    except (LatchkeyError, OSError, ValueError) as error:
        # The provider unreachable or misconfigured: say so, never half start.
        log.warning("console sign-in cannot start: %s", error)
        return html(pages.error(ctx, 503, "Signing in is not available right now; try again shortly."), 503)
    cookie = session_cookie.set_cookie(session_cookie.SIGNIN_COOKIE, started.cookie, secure=secure(request),
                                       path=ctx.url("/console/callback"), max_age=600)
    return redirect(started.url, {"Set-Cookie": cookie}, status=302)


@api.route("/console/callback", methods=["GET"])
def callback():
    from chalicelib.oidc import SignInError
    from chalicelib.services.sessions import NoAccess

    request = api.current_request
    _, _, sessions = services()
    ctx = pages.Ctx(base=base_path(request))
    params: dict = dict(request.query_params or {})
    cookies = session_cookie.cookie_values(dict(request.headers or {}))
    clear = session_cookie.set_cookie(session_cookie.SIGNIN_COOKIE, "", secure=secure(request),
                                      path=ctx.url("/console/callback"), max_age=0)
    if params.get("error"):
        return html(pages.error(ctx, 400, f"The identity provider refused: {params.get('error')}"), 400,
                    {"Set-Cookie": clear})
    try:
        signed_in = sessions.complete(cookie=cookies.get(session_cookie.SIGNIN_COOKIE), code=params.get("code"),
                                      state=params.get("state"))
    except NoAccess as refused:
        log.info("console sign-in refused: no such user or disabled")
        return html(pages.no_access(ctx, refused.message or None), 403, {"Set-Cookie": clear})
    except (SignInError, OSError, ValueError) as error:
        log.warning("console sign-in failed: %s", error)
        return html(pages.error(ctx, 400, "Signing in failed; please try again."), 400, {"Set-Cookie": clear})
    cookie = session_cookie.set_cookie(session_cookie.SESSION_COOKIE, signed_in.secret, secure=secure(request),
                                       path=ctx.url("/console") or "/")
    return redirect(ctx.url(signed_in.next_path), {"Set-Cookie": [cookie, clear]})


@page("/console/signout", methods=("POST",))
def sign_out(here: Page):
    _, _, sessions = services()
    sessions.end(here.session)
    cookie = session_cookie.set_cookie(session_cookie.SESSION_COOKIE, "", secure=secure(here.request),
                                       path=here.ctx.url("/console") or "/", max_age=0)
    ctx = pages.Ctx(base=here.ctx.base)
    return html(pages.signed_out(ctx), 200, {"Set-Cookie": cookie, "Clear-Site-Data": '"cache", "storage"'})


# -- the account -------------------------------------------------------------------

@page("/console")
def console_home(here: Page):
    return here.go(ACCOUNT)


@page(ACCOUNT)
def account(here: Page):
    _, directory, _ = services()
    memberships = directory.organizations(here.principal, limit=100, cursor=None).items
    return html(pages.account_organizations(here.ctx, here.user, memberships))


@page(ACCESS)
def access_management(here: Page):
    tokens, _, _ = services()
    listing = tokens.account_tokens(here.principal, limit=100, cursor=None).items
    message = (here.request.query_params or {}).get("revoked")
    return html(pages.access_management(here.ctx, here.user, listing,
                                        f"Token {message} revoked." if message else None))


def _account_form(here: Page, **kwargs) -> str:
    return pages.token_form(here.ctx, title="Create API token", intro="An account API token acts as you.",
                            action=ACCESS + "/new", cancel=ACCESS,
                            max_days=get_settings().max_token_lifetime_days, **kwargs)


@page(ACCESS + "/new", methods=("GET", "POST"))
def create_account_token(here: Page):
    if here.request.method == "GET":
        return html(_account_form(here))
    tokens, _, _ = services()
    meta = request_meta(here.request)
    return _create(
        here,
        lambda **values: tokens.create_account_token(here.principal, meta=meta, **values),
        lambda **kwargs: _account_form(here, **kwargs),
        lambda created: pages.token_created(here.ctx, title="API token created", token=created.token,
                                            value=created.value, back=ACCESS, back_label="Back to your API tokens"),
    )


@page(ACCESS + "/{tokenId}/revoke", methods=("GET", "POST"))
def revoke_account_token(here: Page, tokenId):
    from chalicelib.api.http import path_id

    tokens, _, _ = services()
    token = tokens.account_token(here.principal, path_id(tokenId))
    label = pages.token_label(token)
    if here.request.method == "GET":
        return html(pages.confirm(here.ctx, title=f"Revoke {label}",
                                  question=f"Revoke the API token {label}? Anything using it stops working at once.",
                                  action=f"{ACCESS}/{int(token.token_id)}/revoke", button="Revoke", cancel=ACCESS))
    tokens.delete_account_token(here.principal, int(token.token_id), meta=request_meta(here.request))
    return here.go(ACCESS + "?" + urllib.parse.urlencode({"revoked": label}))


# -- organizations and repositories --------------------------------------------------------

@page("/console/{provider}/{org}")
def organization(here: Page, provider, org):
    _, directory, _ = services()
    accesses = directory.repositories(here.principal, provider, org, limit=100, cursor=None).items
    return html(pages.organization(here.ctx, provider, org, accesses))


@page(REPOSITORY)
def repository(here: Page, provider, org, repo):
    from chalicelib.access import Action

    _, directory, _ = services()
    access = directory.repository(here.principal, RepositoryRef(provider, org, repo), Action.READ)
    return html(pages.repository(here.ctx, access))


@page(REPOSITORY + "/settings")
def repository_settings(here: Page, provider, org, repo):
    from chalicelib.access import Action

    _, directory, _ = services()
    access = directory.repository(here.principal, RepositoryRef(provider, org, repo), Action.READ)
    return html(pages.settings_general(here.ctx, access))


def _can_manage(access) -> bool:
    from chalicelib.access import Role

    return access.role is not None and access.role >= Role.ADMIN


@page(INTEGRATIONS)
def integrations(here: Page, provider, org, repo):
    tokens, _, _ = services()
    repository = RepositoryRef(provider, org, repo)
    access, listing = tokens.project_token_listing(here.principal, repository, limit=100, cursor=None)
    deleted = (here.request.query_params or {}).get("deleted")
    return html(pages.integrations(here.ctx, access, listing.items, can_manage=_can_manage(access),
                                   message=f"Integration {deleted} deleted." if deleted else None))


def _managed(here: Page, repository: RepositoryRef):
    from chalicelib.access import Action

    _, directory, _ = services()
    return directory.repository(here.principal, repository, Action.MANAGE_TOKENS)


@page(INTEGRATIONS + "/new")
def add_integration(here: Page, provider, org, repo):
    return html(pages.add_integration(here.ctx, _managed(here, RepositoryRef(provider, org, repo))))


@page(INTEGRATIONS + "/new/project-api", methods=("GET", "POST"))
def create_project_token(here: Page, provider, org, repo):
    repository = RepositoryRef(provider, org, repo)
    access = _managed(here, repository)
    base = pages.repo_path(access.repository) + "/settings/integrations"

    def render_form(**kwargs) -> str:
        return pages.token_form(here.ctx, title="Add integration: Project API",
                                intro=f"A project API token acts on {access.repository.full_name} only.",
                                action=base + "/new/project-api", cancel=base,
                                max_days=get_settings().max_token_lifetime_days, **kwargs)

    if here.request.method == "GET":
        return html(render_form())
    tokens, _, _ = services()
    meta = request_meta(here.request)
    return _create(
        here,
        lambda **values: tokens.create_project_token(here.principal, repository, meta=meta, **values),
        render_form,
        lambda created: pages.token_created(here.ctx, title="Project API token created", token=created.token,
                                            value=created.value, back=base, back_label="Back to integrations"),
    )


@page(INTEGRATIONS + "/{tokenId}")
def integration_settings(here: Page, provider, org, repo, tokenId):
    from chalicelib.api.http import path_id

    tokens, _, _ = services()
    access, token = tokens.project_token(here.principal, RepositoryRef(provider, org, repo), path_id(tokenId))
    return html(pages.integration_settings(here.ctx, access, token, can_manage=_can_manage(access)))


@page(INTEGRATIONS + "/{tokenId}/delete", methods=("GET", "POST"))
def delete_project_token(here: Page, provider, org, repo, tokenId):
    from chalicelib.api.http import path_id

    repository = RepositoryRef(provider, org, repo)
    access = _managed(here, repository)
    tokens, _, _ = services()
    _, token = tokens.project_token(here.principal, repository, path_id(tokenId))
    label = pages.token_label(token)
    base = pages.repo_path(access.repository) + "/settings/integrations"
    if here.request.method == "GET":
        return html(pages.confirm(here.ctx, title=f"Delete {label}",
                                  question=f"Delete the Project API integration {label}? CI jobs using its token "
                                           "stop working at once.",
                                  action=f"{base}/{int(token.token_id)}/delete", button="Delete", cancel=base))
    tokens.delete_project_token(here.principal, repository, int(token.token_id),
                                meta=request_meta(here.request))
    return here.go(base + "?" + urllib.parse.urlencode({"deleted": label}))
