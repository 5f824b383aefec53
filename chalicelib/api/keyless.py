"""Keyless CI over HTTP: trusted publishers of a repository (its admins), and
the public exchange of a CI identity token for a short-lived project token
(docs/keyless-ci.md)."""
import functools
import logging

from chalicelib.api.http import (
    ApiBlueprint,
    created_response,
    json_object,
    json_response,
    no_content,
    paged_response,
    path_id,
    request_meta,
)
from chalicelib.api.v3 import REPOSITORY
from chalicelib.clock import iso
from chalicelib.errors import BadRequest, PayloadTooLarge, Unavailable
from chalicelib.repository_ref import RepositoryRef
from chalicelib.wiring import root

api = ApiBlueprint(__name__)
log = logging.getLogger("latchkey.keyless")

MAX_BODY_BYTES = 16 * 1024
PUBLISHER_FIELDS = {"issuer", "repositoryId", "repositoryOwnerId", "workflow", "environment",
                    "projectId", "namespaceId", "ref"}


def services():
    """(PublisherService, TokenExchange), from the composition root (the
    exchange's verifiers, and so their key caches, live as long as the process)."""
    return root().publishers, root().exchange


def trusted_publisher(publisher) -> dict:
    body = {"id": int(publisher.publisher_id), "issuer": publisher.issuer}
    if publisher.kind == "github":
        body.update(repositoryId=int(publisher.subject), repositoryOwnerId=int(publisher.owner_id),
                    workflow=publisher.workflow, environment=publisher.environment)
    else:
        body.update(projectId=int(publisher.subject), namespaceId=int(publisher.owner_id), ref=publisher.ref)
    body["createdAt"] = iso(publisher.created_at)
    return body


@api.route(REPOSITORY + "/trusted-publishers", methods=["GET"])
def list_trusted_publishers(principal, provider, org, repo):
    publishers, _ = services()
    find = functools.partial(publishers.page, principal, RepositoryRef(provider, org, repo))
    return paged_response(api.current_request, find, trusted_publisher)


@api.route(REPOSITORY + "/trusted-publishers", methods=["POST"])
def create_trusted_publisher(principal, provider, org, repo):
    publishers, _ = services()
    body = json_object(api.current_request, max_bytes=MAX_BODY_BYTES, allowed=PUBLISHER_FIELDS)
    repository = RepositoryRef(provider, org, repo)
    created = publishers.create(principal, repository, body, meta=request_meta(api.current_request))
    return created_response(trusted_publisher(created))


@api.route(REPOSITORY + "/trusted-publishers/{publisherId}", methods=["DELETE"])
def delete_trusted_publisher(principal, provider, org, repo, publisherId):
    publishers, _ = services()
    repository = RepositoryRef(provider, org, repo)
    publishers.delete(principal, repository, path_id(publisherId), meta=request_meta(api.current_request))
    return no_content()


def refusal(status: int, code: str, message: str, headers: dict | None = None):
    return json_response({"error": message, "code": code}, status, headers)


@api.route("/oidc/token", methods=["POST"], public=True)
def exchange_oidc_token():
    """Public: the identity token's own checks are the authorization."""
    from chalicelib.services.keyless import INVALID_PAYLOAD, ExchangeRefused

    _, exchange = services()
    try:
        body = json_object(api.current_request, max_bytes=MAX_BODY_BYTES, allowed={"token", "repository"})
        repository = body.get("repository")
        if repository is not None and not isinstance(repository, str):
            raise BadRequest("repository: <provider>/<org>/<repo>")
        minted = exchange.exchange(body.get("token"), repository=repository,
                                   meta=request_meta(api.current_request))
    except PayloadTooLarge as error:
        return refusal(413, INVALID_PAYLOAD, error.message)
    except BadRequest as error:
        return refusal(400, INVALID_PAYLOAD, error.message)
    except Unavailable as error:
        return refusal(503, "unavailable", error.message, {"Retry-After": str(error.retry_after_seconds)})
    except ExchangeRefused as error:
        # For operators: why exchanges fail (never the token itself).
        log.info("oidc exchange refused: code=%s reason=%s source_ip=%s", error.code, error.message,
                 request_meta(api.current_request).source_ip)
        headers = {"Retry-After": "1"} if error.status == 503 else None
        return refusal(error.status, error.code, error.message, headers)
    token = minted.new.token
    return json_response({
        "token": minted.new.value,
        "tokenId": int(token.token_id),
        "expiresAt": iso(token.expires_at),
        "repository": minted.repository,
        "publisherId": int(minted.publisher.publisher_id),
    }, status=201)
