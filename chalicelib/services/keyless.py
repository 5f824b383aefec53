"""Keyless CI: trusted publishers, and the exchange of a CI identity token
for a project token that lives minutes (docs/keyless-ci.md).

Verification follows PyPI's trusted publishing: the signed `iss` must be a
configured issuer (CI_OIDC_ISSUERS), keys from its discovery document,
RS256 only, exact audience, 30 s leeway, GitHub's `pull_request_target`
refused; the publisher is found by immutable ids (repository and owner ids,
project and namespace ids), never names; the token's `jti` is claimed once
(a conditional write that expires with the token), so a replay is refused.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from chalicelib.access import Action, Principal
from chalicelib.clock import utcnow
from chalicelib.errors import BadRequest, Conflict, LatchkeyError, NotFound
from chalicelib.jwt_verify import (
    Fetcher,
    Issuer,
    JWTVerificationError,
    JWTVerifier,
    KeysUnavailable,
    http_get,
    peek_issuer,
)
from chalicelib.models.directory import Repository, TrustedPublisher, org_key, trust_target
from chalicelib.repository_ref import RepositoryRef
from chalicelib.request_meta import RequestMeta
from chalicelib.services import audit as audit_events
from chalicelib.services.audit import AuditService
from chalicelib.services.directory import DirectoryService
from chalicelib.services.revocation import RevocationService
from chalicelib.services.tokens import NewToken, TokenService
from chalicelib.settings import CiIssuer, Settings
from chalicelib.store.pagination import Page, list_page
from chalicelib.store.publishers import ClaimStore, PublisherStore
from chalicelib.store.tokens import LimitReached

LEEWAY_SECONDS = 30
ID_PATTERN = re.compile(r"[1-9][0-9]{0,19}")
WORKFLOW_PATTERN = re.compile(r"\.github/workflows/[A-Za-z0-9._-]+\.ya?ml")
MAX_TEXT = 255

# The fields a publisher of each kind names: (required ids, optional constraints).
FIELDS = {
    "github": (("repositoryId", "repositoryOwnerId"), ("workflow", "environment")),
    "gitlab": (("projectId", "namespaceId"), ("ref",)),
}

# Exchange failures: the `code` of the answer, and its status.
INVALID_PAYLOAD = "invalid-payload"
INVALID_TOKEN = "invalid-token"  # an error code, not a secret  # nosec B105
NO_PUBLISHER = "no-publisher"
REPLAYED_TOKEN = "replayed-token"  # an error code, not a secret  # nosec B105


EXCHANGE_STATUS = {INVALID_PAYLOAD: 400, INVALID_TOKEN: 401, NO_PUBLISHER: 403, REPLAYED_TOKEN: 409}


class ExchangeRefused(LatchkeyError):
    """The exchange said no: `code` says why, in the contract's words."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status or EXCHANGE_STATUS[code]


@dataclass(frozen=True)
class Minted:
    new: NewToken
    repository: str
    publisher: TrustedPublisher


# -- trusted publishers ----------------------------------------------------------

def _id(body: dict, name: str) -> str:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not ID_PATTERN.fullmatch(str(value)):
        raise BadRequest(f"{name}: a positive integer id is required (ids, not names)", field=name)
    return str(int(value))


def _text(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise BadRequest(f"{name}: 1-{MAX_TEXT} printable characters", field=name)
    return value


def publisher_from_body(body: dict, settings: Settings) -> dict:
    """The attributes of a publisher from a request body (validated)."""
    name = body.get("issuer")
    issuer = settings.ci_issuer(name) if isinstance(name, str) else None
    if issuer is None:
        names = ", ".join(i.name for i in settings.ci_oidc_issuers)
        raise BadRequest(f"issuer: one of the configured issuers ({names})", field="issuer")
    required, optional = FIELDS[issuer.kind]
    unknown = sorted(set(body) - {"issuer", *required, *optional})
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field for a {issuer.kind} publisher", field=unknown[0])
    attributes: dict[str, str | None] = {"issuer": issuer.name, "kind": issuer.kind,
                  "subject": _id(body, required[0]), "owner_id": _id(body, required[1])}
    for field in optional:
        value = _text(body, field)
        if field == "workflow" and value is not None and (
                not WORKFLOW_PATTERN.fullmatch(value) or ".." in value):
            raise BadRequest("workflow: the workflow file's path, like .github/workflows/ci.yml", field=field)
        attributes[field] = value
    return attributes


def _constraints(publisher: TrustedPublisher) -> tuple:
    return (publisher.issuer, publisher.subject, publisher.owner_id, publisher.workflow,
            (publisher.environment or "").lower() or None, publisher.ref)


class PublisherService:
    def __init__(self, store: PublisherStore, directory: DirectoryService, audit: AuditService,
                 revocation: RevocationService, tokens: TokenService, settings: Settings, clock=utcnow):
        self.store = store
        self.directory = directory
        self.audit = audit
        self.revocation = revocation
        self.tokens = tokens
        self.settings = settings
        self.clock = clock

    def create(self, principal: Principal, repository: RepositoryRef, body: dict,
               *, meta: RequestMeta | None = None) -> TrustedPublisher:
        live = self.directory.repository(principal, repository, Action.MANAGE_TOKENS).repository
        attributes = publisher_from_body(body, self.settings)
        existing = self.store.of_repository(repository)
        if len(existing) >= self.settings.max_trusted_publishers:
            raise Conflict(f"publisher limit reached: at most {self.settings.max_trusted_publishers} "
                           "trusted publishers per repository")
        publisher = TrustedPublisher(
            org_key(repository.provider, repository.org), "", publisher_id=0, repository=live.full_name,
            repository_id=int(live.repository_id), created_at=self.clock(), created_by=principal.user_id,
            target=trust_target(attributes["issuer"], attributes["subject"]), **attributes,
        )
        if any(_constraints(p) == _constraints(publisher) for p in existing):
            raise Conflict("this trusted publisher is already registered")
        # The store draws the id: the audit items are built once it is known.
        return self.store.create(publisher, audit=lambda p: self._items(audit_events.PUBLISHER_CREATED, p,
                                                                        principal, meta))

    def _items(self, action, publisher, principal, meta):
        return self.audit.publisher_items(action, publisher, principal=principal, meta=meta)

    def page(self, principal: Principal, repository: RepositoryRef,
             *, limit: int, cursor: str | None) -> Page[TrustedPublisher]:
        self.directory.repository(principal, repository, Action.MANAGE_TOKENS)
        publishers = sorted(self.store.of_repository(repository), key=lambda p: p.sk)
        return list_page(publishers, limit=limit, cursor=cursor, key=lambda p: p.sk)

    def delete(self, principal: Principal, repository: RepositoryRef, publisher_id: int,
               *, meta: RequestMeta | None = None) -> int:
        """Remove a publisher, and revoke the tokens it minted that are still
        stored (it may have been removed because it is not to be trusted);
        the number revoked."""
        live = self.directory.repository(principal, repository, Action.MANAGE_TOKENS).repository
        publisher = next((p for p in self.store.of_repository(repository)
                          if int(p.publisher_id) == publisher_id), None)
        if publisher is None:
            raise NotFound()
        items = self._items(audit_events.PUBLISHER_DELETED, publisher, principal, meta)
        if not self.store.delete(publisher, audit_items=items):
            raise NotFound()
        from chalicelib.models.tokens import repository_owner

        minted = [t.pk for t in self.tokens.tokens.all_of(repository_owner(live.repository_id))
                  if t.publisher_id is not None and int(t.publisher_id) == publisher_id]
        revoked = self.revocation.revoke(
            minted, reason=f"trusted publisher {publisher_id} deleted", actor=f"user:{principal.user_id}",
            meta=meta, principal=principal)
        return sum(1 for r in revoked if r.token is not None)


# -- the exchange ----------------------------------------------------------------

def _claim(claims: dict, name: str) -> str:
    value = claims.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ExchangeRefused(INVALID_TOKEN, f"identity token: missing claim {name}")
    return value


def workflow_path(workflow_ref: str | None) -> str | None:
    """`.github/workflows/ci.yml` of GitHub's `workflow_ref`
    (`owner/repo/.github/workflows/ci.yml@refs/heads/main`)."""
    if not workflow_ref:
        return None
    path = workflow_ref.split("@", 1)[0]
    marker = path.find("/.github/workflows/")
    return path[marker + 1:] if marker >= 0 else None


@dataclass(frozen=True)
class Identity:
    """What a verified identity token says about where it runs."""

    issuer: CiIssuer
    subject: str  # GitHub repository_id, GitLab project_id
    owner_id: str  # GitHub repository_owner_id, GitLab namespace_id
    workflow: str | None
    environment: str | None
    ref: str | None
    jti: str
    expires: datetime
    summary: str  # for the audit trail

    @classmethod
    def of(cls, issuer: CiIssuer, claims: dict) -> "Identity":
        jti = _claim(claims, "jti")
        expires = datetime.fromtimestamp(claims["exp"], timezone.utc)
        if issuer.kind == "github":
            event = claims.get("event_name")
            if event == "pull_request_target":
                raise ExchangeRefused(INVALID_TOKEN, "identity token: GitHub's pull_request_target event runs "
                                                     "code of forks with the repository's rights; refused")
            workflow = workflow_path(claims.get("workflow_ref"))
            repository = claims.get("repository") or "?"
            summary = (f"{issuer.name} {repository} (id {_claim(claims, 'repository_id')}) "
                       f"workflow {workflow or '?'} ref {claims.get('ref') or '?'} "
                       f"sha {claims.get('sha') or '?'} run {claims.get('run_id') or '?'} event {event or '?'}")
            return cls(issuer, _claim(claims, "repository_id"), _claim(claims, "repository_owner_id"),
                       workflow, claims.get("environment") or None, claims.get("ref"), jti, expires, summary)
        summary = (f"{issuer.name} {claims.get('project_path') or '?'} (id {_claim(claims, 'project_id')}) "
                   f"ref {claims.get('ref') or '?'} sha {claims.get('sha') or '?'} "
                   f"pipeline {claims.get('pipeline_id') or '?'}")
        return cls(issuer, _claim(claims, "project_id"), _claim(claims, "namespace_id"), None, None,
                   claims.get("ref") if isinstance(claims.get("ref"), str) else None, jti, expires, summary)

    def matches(self, publisher: TrustedPublisher) -> bool:
        if (publisher.issuer, publisher.subject, publisher.owner_id) != (self.issuer.name, self.subject,
                                                                          self.owner_id):
            return False
        if publisher.workflow and publisher.workflow != self.workflow:
            return False
        # GitHub compares environment names case-insensitively.
        if publisher.environment and (self.environment or "").lower() != publisher.environment.lower():
            return False
        return not (publisher.ref and publisher.ref != self.ref)


def _specificity(publisher: TrustedPublisher) -> tuple:
    return (-sum(bool(x) for x in (publisher.workflow, publisher.environment, publisher.ref)),
            int(publisher.publisher_id))


class TokenExchange:
    """CI identity token in, short-lived project token out."""

    def __init__(self, settings: Settings, *, publishers: PublisherStore, claims: ClaimStore, tokens: TokenService,
                 fetcher: Fetcher = http_get, clock=utcnow):
        self.settings = settings
        self.publishers = publishers
        self.claims = claims
        self.tokens = tokens
        self.clock = clock
        self._verifiers = {
            issuer.issuer: (issuer, JWTVerifier(Issuer(issuer.issuer, issuer.audience, algorithms=("RS256",)),
                                                fetcher=fetcher, clock=clock, leeway_seconds=LEEWAY_SECONDS))
            for issuer in self.settings.ci_oidc_issuers
        }

    def verify(self, token) -> Identity:
        if not isinstance(token, str) or not token:
            raise ExchangeRefused(INVALID_PAYLOAD, "token: the CI identity token (a JWT) is required")
        try:
            issuer, verifier = self._verifiers.get(peek_issuer(token)) or (None, None)
            if verifier is None or issuer is None:
                raise ExchangeRefused(INVALID_TOKEN, "identity token: its issuer is not trusted here")
            claims = verifier.verify(token)
        except KeysUnavailable:
            raise ExchangeRefused("unavailable", "the issuer's keys cannot be fetched now; retry", 503) from None
        except JWTVerificationError as error:
            raise ExchangeRefused(INVALID_TOKEN, f"identity token: {error.reason}") from None
        return Identity.of(issuer, claims)

    def exchange(self, token, *, repository: str | None = None, meta: RequestMeta | None = None) -> Minted:
        identity = self.verify(token)
        candidates = [p for p in self.publishers.trusting(identity.issuer.name, identity.subject)
                      if identity.matches(p)]
        if repository is not None:
            candidates = [p for p in candidates if p.repository == repository]
        if not candidates:
            raise ExchangeRefused(NO_PUBLISHER, "no trusted publisher matches this identity token")
        if len({p.repository for p in candidates}) > 1:
            raise ExchangeRefused(INVALID_PAYLOAD, "repository: several repositories trust this identity; "
                                                   "name one (\"repository\": \"<provider>/<org>/<repo>\")")
        publisher = min(candidates, key=_specificity)
        current, stored_repository = self.publishers.confirm(publisher)
        if current is None or stored_repository is None or not self._same_repository(current, stored_repository):
            raise ExchangeRefused(NO_PUBLISHER, "no trusted publisher matches this identity token")
        expires = identity.expires + timedelta(seconds=LEEWAY_SECONDS)
        if not self.claims.claim_once(ClaimStore.jti_key(identity.issuer.name, identity.jti), expires):
            raise ExchangeRefused(REPLAYED_TOKEN, "identity token: already exchanged once")
        try:
            new = self.tokens.mint_project_token(
                stored_repository, current, lifetime_seconds=self.settings.oidc_token_lifetime_seconds,
                reason=f"minted by trusted publisher {int(current.publisher_id)} for {identity.summary}", meta=meta)
        except LimitReached as error:
            raise ExchangeRefused("limit-reached", error.message, 409) from None
        except NotFound:
            raise ExchangeRefused(NO_PUBLISHER, "no trusted publisher matches this identity token") from None
        return Minted(new, stored_repository.full_name, current)

    @staticmethod
    def _same_repository(publisher: TrustedPublisher, repository: Repository) -> bool:
        return repository.ref == publisher.repository_ref

