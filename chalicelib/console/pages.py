"""The console's pages, rendered as HTML strings (no template engine, no
inline script or style: the Content-Security-Policy allows neither).

Every value is escaped by `e()`. A token's value appears in exactly one
page, `token_created`, the answer to the POST that created it.
"""
import html
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CURRENT = ' aria-current="page"'
EXPIRATIONS = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("custom", "Custom date"),
               ("never", "No expiration"))

TRASH_ICON = ('<svg aria-hidden="true" focusable="false" width="16" height="16" viewBox="0 0 16 16">'
              '<path fill="currentColor" d="M6 1h4l1 1h3v2H2V2h3zM3 5h10l-1 10H4z"/></svg>')


def e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def seg(value) -> str:
    """One path segment (an organization or repository name may hold `?` or `%`)."""
    return urllib.parse.quote(str(value), safe="")


@dataclass
class Ctx:
    """What every page of one request needs."""

    base: str = ""  # the stage prefix in front of every path ("" locally, "/api" deployed)
    csrf: str | None = None  # set when signed in
    user_name: str | None = None
    now: datetime | None = None
    extra: dict = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path


def layout(ctx: Ctx, title: str, body: str, *, current: str | None = None) -> str:
    nav = ""
    if ctx.csrf:
        links = [("/console/account", "Account"), ("/docs", "API documentation")]
        items = "".join(
            f'<li><a href="{e(ctx.url(path))}"{CURRENT if current == path else ""}>{e(label)}</a></li>'
            for path, label in links)
        nav = (
            '<header class="top"><nav aria-label="Main">'
            f'<a class="brand" href="{e(ctx.url("/console/account"))}">latchkey</a><ul>{items}</ul></nav>'
            f'<div class="who"><span>{e(ctx.user_name)}</span>'
            f'<form method="post" action="{e(ctx.url("/console/signout"))}">{csrf_field(ctx)}'
            '<button type="submit">Sign out</button></form></div></header>'
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{e(title)} - latchkey</title>'
        f'<link rel="stylesheet" href="{e(ctx.url("/static/console.css"))}">'
        f'<script src="{e(ctx.url("/static/console.js"))}" defer></script></head>'
        f'<body><a class="skip" href="#main">Skip to content</a>{nav}'
        f'<main id="main" tabindex="-1">{body}</main></body></html>\n'
    )


def csrf_field(ctx: Ctx) -> str:
    return f'<input type="hidden" name="csrf" value="{e(ctx.csrf)}">'


def tabs(ctx: Ctx, label: str, items: list[tuple[str, str]], current: str) -> str:
    links = "".join(
        f'<li><a href="{e(ctx.url(path))}"{CURRENT if path == current else ""}>{e(name)}</a></li>'
        for path, name in items)
    return f'<nav class="tabs" aria-label="{e(label)}"><ul>{links}</ul></nav>'


def notice(text: str | None) -> str:
    return f'<p class="notice" role="status">{e(text)}</p>' if text else ""


def when(moment: datetime | None, empty: str = "Never") -> str:
    if moment is None:
        return e(empty)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f'<time datetime="{e(iso)}">{e(moment.strftime("%Y-%m-%d %H:%M UTC"))}</time>'


def token_label(token) -> str:
    return token.name or token.hint


def expires_cell(ctx: Ctx, token) -> str:
    if token.expires_at is None:
        return "No expiration"
    if ctx.now and token.expires_at <= ctx.now:
        return f'<span class="expired">Expired</span> {when(token.expires_at)}'
    return when(token.expires_at)


def token_table(ctx: Ctx, caption: str, tokens, actions) -> str:
    if not tokens:
        return f'<p>No {e(caption.lower())} yet.</p>'
    rows = "".join(
        f'<tr><th scope="row">{e(token_label(t))}</th><td><code>{e(t.hint)}</code></td>'
        f'<td>{when(t.created_at)}</td><td>{when(t.last_used_at)}</td><td>{expires_cell(ctx, t)}</td>'
        f'<td class="actions">{actions(t)}</td></tr>'
        for t in tokens)
    return (
        f'<table><caption>{e(caption)}</caption><thead><tr><th scope="col">Name</th><th scope="col">Hint</th>'
        '<th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th>'
        f'<th scope="col">Actions</th></tr></thead><tbody>{rows}</tbody></table>'
    )


# -- the account ----------------------------------------------------------------

ACCOUNT_TABS = [("/console/account", "Organizations"), ("/console/account/access-management", "Access management")]


def account_header(ctx: Ctx, user, current: str) -> str:
    return (f'<h1>Your account</h1><p>{e(user.name)} &lt;{e(user.email)}&gt;</p>'
            + tabs(ctx, "Account", ACCOUNT_TABS, current))


def account_organizations(ctx: Ctx, user, memberships) -> str:
    if memberships:
        items = "".join(
            f'<li><a href="{e(ctx.url(f"/console/{seg(m.organization.provider)}/{seg(m.organization.name)}"))}">'
            f'{e(m.organization.provider)}/{e(m.organization.name)}</a>'
            f'{" (" + e(m.role) + ")" if m.role else ""}</li>'
            for m in memberships)
        listing = f'<ul class="list">{items}</ul>'
    else:
        listing = "<p>You are not in any organization yet.</p>"
    body = account_header(ctx, user, "/console/account") + f'<h2>Organizations</h2>{listing}'
    return layout(ctx, "Organizations", body, current="/console/account")


def access_management(ctx: Ctx, user, tokens, message: str | None = None) -> str:
    base = "/console/account/access-management"

    def revoke(token) -> str:
        return (f'<form method="get" action="{e(ctx.url(f"{base}/{int(token.token_id)}/revoke"))}">'
                f'<button type="submit" class="icon" aria-label="Revoke {e(token_label(token))}">'
                '<span aria-hidden="true">&#x2715;</span></button></form>')

    body = (
        account_header(ctx, user, base) + notice(message)
        + '<h2>API tokens</h2><p>Account API tokens act as you, on everything you can reach.</p>'
        + f'<form method="get" action="{e(ctx.url(base + "/new"))}">'
        + '<button type="submit">Create API token</button></form>'
        + token_table(ctx, "API tokens", tokens, revoke)
    )
    return layout(ctx, "Access management", body, current="/console/account")


# -- creating a token (both kinds) ---------------------------------------------------

def token_form(ctx: Ctx, *, title: str, intro: str, action: str, cancel: str, max_days: int,
               error: str | None = None, field_name: str | None = None, values: dict | None = None) -> str:
    values = values or {}
    today = (ctx.now or datetime.now()).date()
    chosen = values.get("expiration", "30")
    options = "".join(
        f'<option value="{v}"{" selected" if v == chosen else ""}>{e(label)}</option>' for v, label in EXPIRATIONS)

    def invalid(name: str) -> str:
        return ' aria-invalid="true" aria-describedby="form-error"' if error and field_name == name else ""

    problem = f'<p id="form-error" class="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'<h1>{e(title)}</h1><p>{e(intro)}</p>{problem}'
        f'<form method="post" action="{e(ctx.url(action))}" class="stack">{csrf_field(ctx)}'
        '<p><label for="name">Name</label>'
        f'<input id="name" name="name" required maxlength="100" pattern="[A-Za-z0-9-]+" autocomplete="off" '
        f'aria-describedby="name-help" value="{e(values.get("name", ""))}"{invalid("name")}>'
        '<span id="name-help" class="help">Letters, digits and dashes, at most 100.</span></p>'
        f'<p><label for="expiration">Expiration</label><select id="expiration" name="expiration"{invalid("expiresAt")}>'
        f'{options}</select></p>'
        '<p><label for="custom-date">Custom date</label>'
        f'<input id="custom-date" name="custom_date" type="date" min="{(today + timedelta(days=1)).isoformat()}" '
        f'max="{(today + timedelta(days=max_days)).isoformat()}" value="{e(values.get("custom_date", ""))}" '
        f'aria-describedby="custom-help"><span id="custom-help" class="help">Used when Expiration is '
        f'Custom date; at most {max_days} days ahead.</span></p>'
        f'<p class="buttons"><button type="submit">Create</button> <a href="{e(ctx.url(cancel))}">Cancel</a></p>'
        '</form>'
    )
    return layout(ctx, title, body)


def token_created(ctx: Ctx, *, title: str, token, value: str, back: str, back_label: str) -> str:
    body = (
        f'<h1>{e(title)}</h1>'
        f'<p class="warning" role="alert"><strong>Copy the token now: it will not be shown again.</strong></p>'
        f'<p><label for="token-value">Token value of {e(token_label(token))}</label>'
        f'<input id="token-value" class="secret" readonly autofocus autocomplete="off" spellcheck="false" '
        f'value="{e(value)}"> <button type="button" id="copy" data-copy="token-value">Copy</button>'
        ' <span id="copy-status" role="status" aria-live="polite"></span></p>'
        f'<dl><dt>Name</dt><dd>{e(token.name)}</dd><dt>Hint</dt><dd><code>{e(token.hint)}</code></dd>'
        f'<dt>Expires</dt><dd>{expires_cell(ctx, token)}</dd></dl>'
        f'<p><a href="{e(ctx.url(back))}">{e(back_label)}</a></p>'
    )
    return layout(ctx, title, body)


def confirm(ctx: Ctx, *, title: str, question: str, action: str, button: str, cancel: str) -> str:
    body = (
        f'<h1>{e(title)}</h1><p>{e(question)}</p>'
        f'<form method="post" action="{e(ctx.url(action))}">{csrf_field(ctx)}'
        f'<p class="buttons"><button type="submit" class="danger" autofocus>{e(button)}</button> '
        f'<a href="{e(ctx.url(cancel))}">Cancel</a></p></form>'
    )
    return layout(ctx, title, body)


# -- organizations and repositories ------------------------------------------------------

def organization(ctx: Ctx, provider: str, org: str, accesses) -> str:
    if accesses:
        items = "".join(
            f'<li><a href="{e(ctx.url(f"/console/{seg(provider)}/{seg(org)}/{seg(a.repository.name)}"))}">'
            f'{e(a.repository.name)}</a>'
            f'{" (" + e(a.role.name.lower()) + ")" if a.role else ""}</li>' for a in accesses)
        listing = f'<ul class="list">{items}</ul>'
    else:
        listing = "<p>No repository you can see.</p>"
    crumbs = breadcrumbs(ctx, [("/console/account", "Account"), (None, f"{provider}/{org}")])
    body = f'{crumbs}<h1>{e(provider)}/{e(org)}</h1><h2>Repositories</h2>{listing}'
    return layout(ctx, f"{provider}/{org}", body)


def breadcrumbs(ctx: Ctx, trail: list[tuple[str | None, str]]) -> str:
    items = "".join(
        f'<li><a href="{e(ctx.url(path))}">{e(label)}</a></li>' if path else f'<li aria-current="page">{e(label)}</li>'
        for path, label in trail)
    return f'<nav class="crumbs" aria-label="Breadcrumb"><ol>{items}</ol></nav>'


def repo_path(repository) -> str:
    return f"/console/{seg(repository.provider)}/{seg(repository.owner)}/{seg(repository.name)}"


def repo_header(ctx: Ctx, access, here: str) -> str:
    repo = access.repository
    crumbs = breadcrumbs(ctx, [("/console/account", "Account"),
                               (f"/console/{seg(repo.provider)}/{seg(repo.owner)}", f"{repo.provider}/{repo.owner}"),
                               (None if here == "repo" else repo_path(repo), repo.name)])
    return crumbs + f'<h1>{e(repo.provider)}/{e(repo.owner)}/{e(repo.name)}</h1>'


def repository(ctx: Ctx, access) -> str:
    repo = access.repository
    role = access.role.name.lower() if access.role else "project token"
    body = (
        repo_header(ctx, access, "repo")
        + f'<p>Your role: <strong>{e(role)}</strong>.</p>'
        + f'<nav aria-label="Repository"><ul class="list"><li><a href="{e(ctx.url(repo_path(repo) + "/settings"))}">'
        'Settings</a></li></ul></nav>'
    )
    return layout(ctx, f"{repo.provider}/{repo.owner}/{repo.name}", body)


def settings_tabs(ctx: Ctx, repo, current: str) -> str:
    base = repo_path(repo) + "/settings"
    return tabs(ctx, "Settings", [(base, "General"), (base + "/integrations", "Integrations")], current)


def settings_general(ctx: Ctx, access) -> str:
    repo = access.repository
    body = (
        repo_header(ctx, access, "settings") + '<h2>Settings</h2>'
        + settings_tabs(ctx, repo, repo_path(repo) + "/settings")
        + f'<dl><dt>Provider</dt><dd>{e(repo.provider)}</dd><dt>Organization</dt><dd>{e(repo.owner)}</dd>'
        f'<dt>Repository</dt><dd>{e(repo.name)}</dd><dt>Repository id</dt><dd>{int(repo.repository_id)}</dd></dl>'
    )
    return layout(ctx, "Settings", body)


def integrations(ctx: Ctx, access, tokens, *, can_manage: bool, message: str | None = None) -> str:
    repo = access.repository
    base = repo_path(repo) + "/settings/integrations"

    def actions(token) -> str:
        tid = int(token.token_id)
        label = e(token_label(token))
        out = (f'<form method="get" action="{e(ctx.url(f"{base}/{tid}"))}">'
               f'<button type="submit" aria-label="Settings of {label}">Settings</button></form>')
        if can_manage:
            out += (f'<form method="get" action="{e(ctx.url(f"{base}/{tid}/delete"))}">'
                    f'<button type="submit" class="icon" aria-label="Delete {label}">{TRASH_ICON}</button></form>')
        return out

    add = (f'<form method="get" action="{e(ctx.url(base + "/new"))}"><button type="submit">Add integration</button>'
           '</form>') if can_manage else '<p>Only repository admins can add or delete integrations.</p>'
    body = (
        repo_header(ctx, access, "settings") + '<h2>Settings</h2>' + settings_tabs(ctx, repo, base)
        + notice(message) + '<h3>Integrations</h3>' + add
        + token_table(ctx, "Project API integrations", tokens, actions)
    )
    return layout(ctx, "Integrations", body)


def add_integration(ctx: Ctx, access) -> str:
    repo = access.repository
    base = repo_path(repo) + "/settings/integrations"
    body = (
        repo_header(ctx, access, "settings") + '<h2>Add integration</h2>'
        + '<ul class="list"><li>'
        + f'<form method="get" action="{e(ctx.url(base + "/new/project-api"))}">'
        + '<button type="submit" aria-describedby="project-api-help">Project API</button></form>'
        + '<p id="project-api-help" class="help">A project API token: CI uploads coverage and analysis results '
        'and calls the API for this repository only.</p></li></ul>'
        + f'<p><a href="{e(ctx.url(base))}">Cancel</a></p>'
    )
    return layout(ctx, "Add integration", body)


def lifecycle_rows(token) -> str:
    """The token's lifecycle settings (issue 16) as definition-list rows."""
    from chalicelib.scopes import SCOPES

    scopes = sorted(token.scope_set, key=SCOPES.index) if token.scope_set else list(SCOPES)
    networks = ", ".join(token.allowed_cidrs) if token.allowed_cidrs else "any"
    uses = f"{int(token.uses or 0)} of {int(token.max_uses)}" if token.max_uses is not None else "unlimited"
    state = "paused" if token.paused else ("rotated (in its grace period)" if token.rotated_at else "active")
    return (f'<dt>Scopes</dt><dd>{e(", ".join(scopes))}</dd><dt>Allowed networks</dt><dd>{e(networks)}</dd>'
            f'<dt>Uses</dt><dd>{e(uses)}</dd><dt>State</dt><dd>{e(state)}</dd>'
            f'<dt>Family</dt><dd>{int(token.family)}</dd>')


def integration_settings(ctx: Ctx, access, token, *, can_manage: bool) -> str:
    repo = access.repository
    base = repo_path(repo) + "/settings/integrations"
    delete = ""
    if can_manage:
        delete = (f'<form method="get" action="{e(ctx.url(f"{base}/{int(token.token_id)}/delete"))}">'
                  f'<button type="submit" class="icon" aria-label="Delete {e(token_label(token))}">{TRASH_ICON}'
                  '</button></form>')
    body = (
        repo_header(ctx, access, "settings") + f'<h2>Project API: {e(token_label(token))}</h2>'
        f'<dl><dt>Name</dt><dd>{e(token.name)}</dd><dt>Hint</dt><dd><code>{e(token.hint)}</code></dd>'
        f'<dt>Created</dt><dd>{when(token.created_at)}</dd><dt>Last used</dt><dd>{when(token.last_used_at)}</dd>'
        f'<dt>Expires</dt><dd>{expires_cell(ctx, token)}</dd>{lifecycle_rows(token)}<dt>Use it as</dt>'
        '<dd><code>project-token</code> header, or <code>CODACY_PROJECT_TOKEN</code> for Codacy\'s reporters</dd></dl>'
        f'{delete}<p><a href="{e(ctx.url(base))}">Back to integrations</a></p>'
    )
    return layout(ctx, "Integration settings", body)


# -- signing in and out, errors ----------------------------------------------------------

def no_access(ctx: Ctx, email: str | None) -> str:
    who = f" as {e(email)}" if email else ""
    body = (
        '<h1>No access</h1>'
        f'<p>You signed in{who}, but that account has no access to latchkey: it is not one of its users, '
        'or it has been disabled. Ask an administrator to add you.</p>'
        f'<p><a href="{e(ctx.url("/console/signin"))}">Sign in with another account</a></p>'
    )
    return layout(ctx, "No access", body)


def signed_out(ctx: Ctx) -> str:
    body = ('<h1>Signed out</h1><p>Your session has ended.</p>'
            f'<p><a href="{e(ctx.url("/console/signin"))}">Sign in again</a></p>')
    return layout(ctx, "Signed out", body)


def error(ctx: Ctx, status: int, message: str) -> str:
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict", 503: "Unavailable"}
    title = titles.get(status, "Something went wrong")
    body = (f'<h1>{e(title)}</h1><p>{e(message)}</p>'
            f'<p><a href="{e(ctx.url("/console/account"))}">Back to your account</a></p>')
    return layout(ctx, title, body)


def docs(base: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>API documentation - latchkey</title>'
        f'<link rel="stylesheet" href="{e(base)}/static/swagger-ui.css">'
        f'<link rel="stylesheet" href="{e(base)}/static/docs.css">'
        f'<script src="{e(base)}/static/swagger-ui-bundle.js" defer></script>'
        f'<script src="{e(base)}/static/docs.js" defer></script></head>'
        f'<body><a class="skip" href="#main">Skip to content</a><main id="main">'
        f'<p class="docs-nav"><a href="{e(base)}/console/account">Back to the console</a> · '
        f'<a href="{e(base)}/openapi.json">openapi.json</a></p>'
        f'<div id="swagger-ui" data-url="{e(base)}/openapi.json"></div></main></body></html>\n'
    )
