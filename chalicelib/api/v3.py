"""API v3: the caller, its organizations and repositories, and token
management, with Codacy's paths and shapes (`codacy-compat.md`)."""
import functools
from collections.abc import Mapping

from chalicelib.api.http import (
    ApiBlueprint,
    created_response,
    json_object,
    json_response,
    no_content,
    page_body,
    paged_response,
    pagination,
    path_id,
    request_meta,
)
from chalicelib.clock import iso, utcnow
from chalicelib.errors import BadRequest
from chalicelib.repository_ref import RepositoryRef
from chalicelib.scopes import REPOSITORY_READ, SCOPES
from chalicelib.wiring import root

api = ApiBlueprint(__name__)

MAX_BODY_BYTES = 16 * 1024
TOKEN_FIELDS = {"name", "expiresAt"}
# The lifecycle's settings of a new token (issue 16); scopes: project tokens only.
LIMIT_FIELDS = {"scopes": "scopes", "allowedCidrs": "allowed_cidrs", "maxUses": "max_uses"}
ROTATE_FIELDS = {"gracePeriodSeconds", "expiresAt"}
PATCH_FIELDS = {"disabled"}
REPOSITORY = "/organizations/{provider}/{org}/repositories/{repo}"
MAX_SEARCH = 100


def services():
    """(TokenService, DirectoryService), from the composition root."""
    return root().tokens, root().directory


def api_token(token, value: str | None = None) -> dict:
    """Codacy's `ApiToken`; the value only in the answer that creates it."""
    body = {
        "id": int(token.token_id),
        "name": token.name,
        "hint": token.hint,
        "createdAt": iso(token.created_at),
        "expiresAt": iso(token.expires_at),
        "lastUsedAt": iso(token.last_used_at),
        "expired": token.expires_at is not None and token.expires_at <= utcnow(),
        **lifecycle_fields(token),
    }
    if getattr(token, "publisher_id", None) is not None:
        # Minted by a trusted publisher from a CI identity token (keyless CI).
        body["mintedBy"] = {"publisherId": int(token.publisher_id), "issuer": token.publisher_issuer}
    if value is not None:
        body["token"] = value
    return body


def lifecycle_fields(token) -> dict:
    """Rotation, scopes, limits and pause of a token (issue 16)."""
    project = token.kind == "project"
    return {
        "familyId": int(token.family),
        "rotatedAt": iso(token.rotated_at),
        "successorId": int(token.successor_id) if token.successor_id is not None else None,
        "scopes": (sorted(token.scope_set, key=SCOPES.index) if token.scope_set else list(SCOPES))
        if project else None,
        "allowedCidrs": list(token.allowed_cidrs) if token.allowed_cidrs else None,
        "maxUses": int(token.max_uses) if token.max_uses is not None else None,
        "uses": int(token.uses or 0),
        "disabled": bool(token.paused),
    }


def rotation_body(rotation) -> dict:
    previous = rotation.previous
    return {
        "data": api_token(rotation.successor.token, rotation.successor.value),
        "previous": {"id": int(previous.token_id), "expiresAt": iso(previous.expires_at)},
    }


def user_body(user) -> dict:
    return {
        "id": int(user.user_id),
        "name": user.name,
        "mainEmail": user.email,
        "otherEmails": [],
        "isAdmin": bool(user.is_admin),
        "isActive": not user.disabled,
        "created": iso(user.created_at),
    }


def organization_body(membership) -> dict:
    org = membership.organization
    body = {
        "name": org.name,
        "provider": org.provider,
        "type": "Account" if org.personal else "Organization",
        "remoteIdentifier": str(int(org.org_id)),
        "identifier": int(org.org_id),
    }
    if membership.role:
        body["userRole"] = membership.role
    return body


def repository_body(access) -> dict:
    repo = access.repository
    body = {
        "provider": repo.provider,
        "owner": repo.owner,
        "name": repo.name,
        "repositoryId": int(repo.repository_id),
        "fullPath": f"{repo.owner}/{repo.name}",
        # Codacy's specification marks these required. Latchkey knows a
        # repository's visibility (from the directory) and that it is added;
        # it does not analyse code, so it knows no languages or problems.
        "visibility": "Public" if repo.public else "Private",
        "languages": [],
        "problems": [],
        "addedState": "Added",
    }
    if access.role is not None:
        body["permission"] = access.role.name.lower()
    return body


def _token_request():
    body = json_object(api.current_request, max_bytes=MAX_BODY_BYTES, allowed=TOKEN_FIELDS | set(LIMIT_FIELDS))
    request = {"name": body.get("name"), "expires_at": body.get("expiresAt")}
    request.update({stored: body[field] for field, stored in LIMIT_FIELDS.items() if field in body})
    return request


def _rotate_request():
    body = json_object(api.current_request, max_bytes=MAX_BODY_BYTES, allowed=ROTATE_FIELDS)
    return {"grace_period_seconds": body.get("gracePeriodSeconds"), "expires_at": body.get("expiresAt")}


def _patch_request():
    from chalicelib.errors import BadRequest

    body = json_object(api.current_request, max_bytes=MAX_BODY_BYTES, allowed=PATCH_FIELDS)
    if "disabled" not in body:
        raise BadRequest("disabled: required (true pauses the token, false resumes it)", field="disabled")
    return body["disabled"]


# -- the caller ----------------------------------------------------------------

@api.route("/user", methods=["GET"])
def get_user(principal):
    _, directory = services()
    return json_response({"data": user_body(directory.user(principal))})


@api.route("/user/organizations", methods=["GET"])
def list_organizations(principal):
    _, directory = services()
    limit, cursor = pagination(api.current_request)
    page = directory.organizations(principal, limit=limit, cursor=cursor)
    return json_response(page_body(page, organization_body))


@api.route("/user/organizations/{provider}", methods=["GET"])
def list_provider_organizations(principal, provider):
    _, directory = services()
    limit, cursor = pagination(api.current_request)
    page = directory.organizations(principal, limit=limit, cursor=cursor, provider=provider)
    return json_response(page_body(page, organization_body))


@api.route("/user/organizations/{provider}/{org}", methods=["GET"])
def get_user_organization(principal, provider, org):
    _, directory = services()
    return json_response({"data": organization_body(directory.organization(principal, provider, org))})


# -- account tokens ------------------------------------------------------------

@api.route("/user/tokens", methods=["GET"])
def list_account_tokens(principal):
    tokens, _ = services()
    limit, cursor = pagination(api.current_request)
    return json_response(page_body(tokens.account_tokens(principal, limit=limit, cursor=cursor), api_token))


@api.route("/user/tokens", methods=["POST"])
def create_account_token(principal):
    tokens, _ = services()
    created = tokens.create_account_token(principal, **_token_request(), meta=request_meta(api.current_request))
    return json_response(api_token(created.token, created.value))


@api.route("/user/tokens/{tokenId}", methods=["DELETE"])
def delete_account_token(principal, tokenId):
    tokens, _ = services()
    tokens.delete_account_token(principal, path_id(tokenId), meta=request_meta(api.current_request))
    return no_content()


@api.route("/user/tokens/{tokenId}/rotate", methods=["POST"])
def rotate_account_token(principal, tokenId):
    tokens, _ = services()
    rotation = tokens.rotate_account_token(principal, path_id(tokenId), **_rotate_request(),
                                           meta=request_meta(api.current_request))
    return json_response(rotation_body(rotation), status=201)


@api.route("/user/tokens/{tokenId}", methods=["PATCH"])
def patch_account_token(principal, tokenId):
    tokens, _ = services()
    token = tokens.set_account_token_disabled(principal, path_id(tokenId), _patch_request(),
                                              meta=request_meta(api.current_request))
    return json_response({"data": api_token(token)})


# -- repositories --------------------------------------------------------------

@api.route("/organizations/{provider}/{org}/repositories", methods=["GET"], scope=REPOSITORY_READ)
def list_repositories(principal, provider, org):
    _, directory = services()
    limit, cursor = pagination(api.current_request)
    params: Mapping[str, str] = api.current_request.query_params or {}
    search = params.get("search")
    if search is not None and len(search) > MAX_SEARCH:
        raise BadRequest(f"search: at most {MAX_SEARCH} characters", field="search")
    page = directory.repositories(principal, provider, org, limit=limit, cursor=cursor, search=search)
    return json_response(page_body(page, repository_body))


@api.route(REPOSITORY, methods=["GET"], scope=REPOSITORY_READ)
def get_repository(principal, provider, org, repo):
    from chalicelib.access import Action

    _, directory = services()
    access = directory.repository(principal, RepositoryRef(provider, org, repo), Action.READ)
    return json_response({"data": repository_body(access)})


# -- project tokens ------------------------------------------------------------

@api.route(REPOSITORY + "/tokens", methods=["GET"])
def list_project_tokens(principal, provider, org, repo):
    tokens, _ = services()
    find = functools.partial(tokens.project_tokens, principal, RepositoryRef(provider, org, repo))
    return paged_response(api.current_request, find, api_token)


@api.route(REPOSITORY + "/tokens", methods=["POST"])
def create_project_token(principal, provider, org, repo):
    tokens, _ = services()
    created = tokens.create_project_token(
        principal, RepositoryRef(provider, org, repo), **_token_request(), meta=request_meta(api.current_request)
    )
    return created_response(api_token(created.token, created.value))


@api.route(REPOSITORY + "/tokens/{tokenId}", methods=["DELETE"])
def delete_project_token(principal, provider, org, repo, tokenId):
    tokens, _ = services()
    tokens.delete_project_token(
        principal, RepositoryRef(provider, org, repo), path_id(tokenId), meta=request_meta(api.current_request)
    )
    return no_content()


@api.route(REPOSITORY + "/tokens/{tokenId}/rotate", methods=["POST"])
def rotate_project_token(principal, provider, org, repo, tokenId):
    tokens, _ = services()
    repository = RepositoryRef(provider, org, repo)
    rotation = tokens.rotate_project_token(principal, repository, path_id(tokenId), **_rotate_request(),
                                           meta=request_meta(api.current_request))
    return json_response(rotation_body(rotation), status=201)


@api.route(REPOSITORY + "/tokens/{tokenId}", methods=["PATCH"])
def patch_project_token(principal, provider, org, repo, tokenId):
    tokens, _ = services()
    repository = RepositoryRef(provider, org, repo)
    token = tokens.set_project_token_disabled(principal, repository, path_id(tokenId),
                                              _patch_request(), meta=request_meta(api.current_request))
    return json_response({"data": api_token(token)})


# -- the audit trail -------------------------------------------------------------

def audit_reader():
    return root().audit_reader


def audit_event(event) -> dict:
    """One audit event as the API shows it (never a token value: none is stored)."""
    return {
        "id": event.event_id,
        "at": event.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "action": event.action,
        "outcome": event.outcome,
        "actor": event.actor,
        "userId": int(event.actor_user_id) if event.actor_user_id is not None else None,
        "tokenId": int(event.token_id) if event.token_id is not None else None,
        "tokenHint": event.token_hint,
        "tokenKind": event.token_kind,
        "repository": event.repository,
        "sourceIp": event.source_ip,
        "userAgent": event.user_agent,
        "request": event.request,
        "status": int(event.status) if event.status is not None else None,
        "reason": event.reason,
        "count": int(event.refused_requests) if event.refused_requests is not None else None,
    }


@api.route("/user/tokens/events", methods=["GET"])
def list_user_token_events(principal):
    limit, cursor = pagination(api.current_request)
    page = audit_reader().user_events(principal, limit=limit, cursor=cursor)
    return json_response(page_body(page, audit_event))


@api.route(REPOSITORY + "/tokens/events", methods=["GET"])
def list_repository_token_events(principal, provider, org, repo):
    limit, cursor = pagination(api.current_request)
    repository = RepositoryRef(provider, org, repo)
    page = audit_reader().repository_events(principal, repository, limit=limit, cursor=cursor)
    return json_response(page_body(page, audit_event))


@api.route("/organizations/{provider}/{org}/audit/deleted-repositories/{repositoryId}/events", methods=["GET"])
def list_deleted_repository_events(principal, provider, org, repositoryId):
    limit, cursor = pagination(api.current_request)
    page = audit_reader().deleted_repository_events(principal, provider, org, path_id(repositoryId),
                                                    limit=limit, cursor=cursor)
    return json_response(page_body(page, audit_event))
