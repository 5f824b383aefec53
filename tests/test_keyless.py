"""Keyless CI: trusted publishers and the exchange of a CI identity token,
verified against issuers on 127.0.0.1 with keys generated here."""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.models.audit import Claim
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import SettingsError, from_environ
from tests.keyless_world import (
    GITHUB_OWNER_ID,
    GITHUB_REPOSITORY_ID,
    GITLAB_NAMESPACE_ID,
    GITLAB_PROJECT_ID,
    REPO,
    github_claims,
    gitlab_claims,
    install,
    keyless_settings,
)
from tests.oidc_issuer import LocalIssuer, b64url, public_pem, rsa_key

PUBLISHERS = REPO + "/trusted-publishers"
GITHUB_PUBLISHER = {"issuer": "github", "repositoryId": int(GITHUB_REPOSITORY_ID),
                    "repositoryOwnerId": GITHUB_OWNER_ID}


@pytest.fixture(scope="module")
def github():
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def gitlab():
    with LocalIssuer(path="/gitlab") as issuer:
        yield issuer


@pytest.fixture
def world(api, make, monkeypatch, github, gitlab, clock):
    """gh/acme/widgets with an admin, the keyless services trusting both test issuers."""
    make.repo("gh/acme/widgets")
    admin = make.user("admin@example.com").grant("gh/acme/widgets", "admin")
    settings = keyless_settings(github.issuer, gitlab.issuer)
    publishers, exchange = install(monkeypatch, settings, clock)

    class World:
        pass

    w = World()
    w.api, w.make, w.clock, w.github, w.gitlab = api, make, clock, github, gitlab
    w.admin_token = admin.token()
    w.admin = admin
    w.settings = settings
    w.exchange_service = exchange
    w.publishers = publishers

    def register(body=None):
        status, answer = api.post(PUBLISHERS, w.admin_token, body=body or GITHUB_PUBLISHER)
        assert status == 201, answer
        return answer["data"]

    def mint(claims=None, issuer=None, **kwargs):
        issuer = issuer or github
        return issuer.mint(claims if claims is not None else github_claims(), now=clock.now.timestamp(), **kwargs)

    def exchange(token, **extra):
        return api.post("/api/v3/oidc/token", body={"token": token, **extra})

    w.register, w.mint, w.exchange = register, mint, exchange
    return w


def refused(answer, status, code, contains=""):
    got_status, body = answer
    assert (got_status, body.get("code")) == (status, code), body
    assert contains in body["error"], body
    assert set(body) == {"error", "code"}


# -- trusted publishers ------------------------------------------------------------

def test_register_list_and_delete_a_github_publisher(world):
    created = world.register({**GITHUB_PUBLISHER, "workflow": ".github/workflows/ci.yml",
                              "environment": "release"})
    assert created == {"id": created["id"], "issuer": "github", "repositoryId": 2002, "repositoryOwnerId": 1001,
                       "workflow": ".github/workflows/ci.yml", "environment": "release",
                       "createdAt": created["createdAt"]}
    status, listing = world.api.get(PUBLISHERS, world.admin_token)
    assert status == 200 and listing["data"] == [created] and listing["pagination"]["total"] == 1
    world.clock.advance(seconds=1)
    assert world.api.delete(f"{PUBLISHERS}/{created['id']}", world.admin_token)[0] == 204
    assert world.api.delete(f"{PUBLISHERS}/{created['id']}", world.admin_token)[0] == 404
    assert world.api.get(PUBLISHERS, world.admin_token)[1]["data"] == []
    status, trail = world.api.get(REPO + "/tokens/events", world.admin_token)
    actions = [(e["action"], e["actor"]) for e in trail["data"]]
    assert actions[:2] == [("publisher.deleted", f"user:{world.admin.user_id}"),
                           ("publisher.created", f"user:{world.admin.user_id}")]
    assert "repository 2002 of owner 1001" in trail["data"][0]["reason"]


def test_register_a_gitlab_publisher(world):
    created = world.register({"issuer": "gitlab", "projectId": GITLAB_PROJECT_ID, "namespaceId": 55,
                              "ref": "main"})
    assert {k: created[k] for k in ("issuer", "projectId", "namespaceId", "ref")} == {
        "issuer": "gitlab", "projectId": 77, "namespaceId": 55, "ref": "main"}


@pytest.mark.parametrize("body, field", [
    ({"issuer": "bitbucket", "repositoryId": 1, "repositoryOwnerId": 2}, "issuer"),
    ({"repositoryId": 1, "repositoryOwnerId": 2}, "issuer"),
    ({"issuer": "github", "repositoryId": "acme/widgets", "repositoryOwnerId": 2}, "repositoryId"),
    ({"issuer": "github", "repositoryId": 1}, "repositoryOwnerId"),
    ({"issuer": "github", "repositoryId": 0, "repositoryOwnerId": 2}, "repositoryId"),
    ({"issuer": "github", "repositoryId": True, "repositoryOwnerId": 2}, "repositoryId"),
    ({"issuer": "github", "repositoryId": 1, "repositoryOwnerId": 2, "ref": "main"}, "ref"),
    ({"issuer": "gitlab", "projectId": 1, "namespaceId": 2, "workflow": ".github/workflows/a.yml"}, "workflow"),
    ({"issuer": "github", "repositoryId": 1, "repositoryOwnerId": 2, "workflow": "ci.yml"}, "workflow"),
    ({"issuer": "github", "repositoryId": 1, "repositoryOwnerId": 2, "workflow": ".github/workflows/../x.yml"},
     "workflow"),
    ({"issuer": "github", "repositoryId": 1, "repositoryOwnerId": 2, "environment": ""}, "environment"),
    ({"issuer": "github", "repositoryId": 1, "repositoryOwnerId": 2, "name": "acme"}, "name"),
])
def test_register_refuses_bad_bodies(world, body, field):
    status, answer = world.api.post(PUBLISHERS, world.admin_token, body=body)
    assert status == 400 and answer["error"].startswith(f"{field}:"), answer


def test_register_refuses_duplicates_and_past_the_limit(world, monkeypatch):
    world.register()
    status, answer = world.api.post(PUBLISHERS, world.admin_token, body=GITHUB_PUBLISHER)
    assert status == 409, answer
    world.register({**GITHUB_PUBLISHER, "workflow": ".github/workflows/ci.yml"})  # another constraint: fine
    import dataclasses

    world.publishers.settings = dataclasses.replace(world.settings, max_trusted_publishers=2)
    status, answer = world.api.post(PUBLISHERS, world.admin_token, body={**GITHUB_PUBLISHER, "environment": "x"})
    assert status == 409 and "limit" in answer["error"]


def test_publishers_are_managed_by_repository_admins_only(world):
    writer = world.make.user("writer@example.com").grant("gh/acme/widgets", "write").token()
    assert world.api.post(PUBLISHERS, writer, body=GITHUB_PUBLISHER)[0] == 403
    assert world.api.get(PUBLISHERS, writer)[0] == 403
    project = world.make.project_token("gh/acme/widgets")
    assert world.api.post(PUBLISHERS, project, body=GITHUB_PUBLISHER)[0] == 403
    stranger = world.make.user("stranger@example.com").token()
    assert world.api.get(PUBLISHERS, stranger)[0] == 404


# -- the exchange -------------------------------------------------------------------

def test_exchange_mints_a_project_token_of_the_repository_for_15_minutes(world, client):
    publisher = world.register()
    status, minted = world.exchange(world.mint())
    assert status == 201, minted
    assert set(minted) == {"token", "tokenId", "expiresAt", "repository", "publisherId"}
    assert minted["token"].startswith("lkp_") and minted["repository"] == "gh/acme/widgets"
    assert minted["publisherId"] == publisher["id"]
    expires = datetime.fromisoformat(minted["expiresAt"].replace("Z", "+00:00"))
    assert expires == world.clock.now + timedelta(minutes=15)
    response = client.http.get(REPO, headers={"project-token": minted["token"]})
    assert response.status_code == 200
    assert response.headers["Latchkey-Token-Expiration"] == expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    # listed, and on the trail, as minted by that publisher
    listing = world.api.get(REPO + "/tokens", world.admin_token)[1]["data"]
    mine = next(t for t in listing if t["id"] == minted["tokenId"])
    assert mine["mintedBy"] == {"publisherId": publisher["id"], "issuer": "github"}
    trail = world.api.get(REPO + "/tokens/events", world.admin_token)[1]["data"]
    created = next(e for e in trail if e["action"] == "token.created" and e["tokenId"] == minted["tokenId"])
    assert created["actor"] == f"publisher:{publisher['id']}"
    assert "acme/widgets (id 2002)" in created["reason"] and "workflow .github/workflows/ci.yml" in created["reason"]
    # and it dies on time
    world.clock.advance(minutes=15)
    response = client.http.get(REPO, headers={"project-token": minted["token"]})
    assert response.status_code == 401 and json.loads(response.body) == {"error": "token expired"}


def test_exchange_lifetime_is_a_setting(world, monkeypatch):
    import dataclasses

    world.exchange_service.settings = dataclasses.replace(world.settings, oidc_token_lifetime_seconds=3600)
    world.register()
    status, minted = world.exchange(world.mint())
    expires = datetime.fromisoformat(minted["expiresAt"].replace("Z", "+00:00"))
    assert status == 201 and expires == world.clock.now + timedelta(hours=1)
    for bad in ("59", "3601", "x"):
        with pytest.raises(SettingsError, match="OIDC_TOKEN_LIFETIME_SECONDS"):
            from_environ({"OIDC_TOKEN_LIFETIME_SECONDS": bad})


def test_exchange_replay_is_refused(world, aws):
    world.register()
    token = world.mint()
    assert world.exchange(token)[0] == 201
    refused(world.exchange(token), 409, "replayed-token")
    # the claim expires with the identity token (plus the leeway)
    (claim,) = [c for c in Claim.scan() if c.pk.startswith("jti#")]
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    assert claim.expires == datetime.fromtimestamp(exp + 30, timezone.utc)
    assert claim.pk == "jti#github#" + hashlib.sha256(
        json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"].encode()).hexdigest()


def test_exchange_refuses_a_wrong_audience(world):
    world.register()
    refused(world.exchange(world.mint(github_claims(aud="pypi"))), 401, "invalid-token", "wrong audience")
    refused(world.exchange(world.mint(github_claims(aud=["latchkey", "pypi"]))), 401, "invalid-token")


def test_exchange_refuses_an_untrusted_or_wrong_issuer(world):
    world.register()
    with LocalIssuer() as stranger:
        refused(world.exchange(stranger.mint(github_claims())), 401, "invalid-token", "issuer is not trusted")
        # A stranger's token naming a trusted issuer: that issuer's keys do not verify it.
        forged = stranger.mint(github_claims(iss=world.github.issuer), now=world.clock.now.timestamp())
        refused(world.exchange(forged), 401, "invalid-token", "bad signature")
    # Signed by the GitHub issuer, claiming to be GitLab.
    refused(world.exchange(world.mint(github_claims(iss=world.gitlab.issuer))), 401, "invalid-token")


def test_exchange_refuses_expired_and_future_tokens(world):
    world.register()
    old = world.mint(lifetime=300)
    world.clock.advance(seconds=300 + 31)
    refused(world.exchange(old), 401, "invalid-token", "expired")
    early = world.github.mint(github_claims(), now=world.clock.now.timestamp() + 120)
    refused(world.exchange(early), 401, "invalid-token", "issued in the future")


def test_exchange_within_the_30_second_leeway(world):
    world.register()
    token = world.mint(lifetime=300)
    world.clock.advance(seconds=300 + 29)
    assert world.exchange(token)[0] == 201


def test_exchange_refuses_an_unknown_kid(world):
    world.register()
    hidden = world.github.add_key("never-published", publish=False)
    refused(world.exchange(world.mint(kid="never-published", key=hidden)), 401, "invalid-token", "unknown key id")


def test_exchange_refuses_alg_swaps(world):
    world.register()
    _, payload, _ = world.mint().split(".")
    none = b64url(json.dumps({"alg": "none", "kid": "key-1", "typ": "JWT"}).encode())
    refused(world.exchange(f"{none}.{payload}."), 401, "invalid-token", "unsupported algorithm")
    hs = b64url(json.dumps({"alg": "HS256", "kid": "key-1", "typ": "JWT"}).encode())
    mac = hmac.new(public_pem(world.github.keys["key-1"]), f"{hs}.{payload}".encode(), hashlib.sha256).digest()
    refused(world.exchange(f"{hs}.{payload}.{b64url(mac)}"), 401, "invalid-token", "unsupported algorithm")
    refused(world.exchange(world.mint(alg="RS384")), 401, "invalid-token", "unsupported algorithm")


def test_exchange_refuses_a_bad_signature(world):
    world.register()
    refused(world.exchange(world.mint(key=rsa_key())), 401, "invalid-token", "bad signature")
    header, payload, signature = world.mint().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["repository_id"] = "9999"
    refused(world.exchange(f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"), 401, "invalid-token",
            "bad signature")


def test_exchange_refuses_pull_request_target(world):
    world.register()
    refused(world.exchange(world.mint(github_claims(event_name="pull_request_target"))), 401, "invalid-token",
            "pull_request_target")
    assert world.exchange(world.mint(github_claims(event_name="pull_request")))[0] == 201


@pytest.mark.parametrize("claims", [
    github_claims(repository_id="2003"),           # another repository (or a fork)
    github_claims(repository_owner_id="1002"),     # same name, re-created owner: another id
    github_claims(repository="acme/widgets", repository_id="1", repository_owner_id="1"),
])
def test_exchange_refuses_wrong_ids(world, claims):
    world.register()
    refused(world.exchange(world.mint(claims)), 403, "no-publisher")


def test_exchange_matches_ids_not_names(world):
    world.register()
    renamed = github_claims(repository="acme-renamed/gadgets", repository_owner="acme-renamed",
                            workflow_ref="acme-renamed/gadgets/.github/workflows/ci.yml@refs/heads/main")
    assert world.exchange(world.mint(renamed))[0] == 201


def test_exchange_honours_workflow_and_environment(world):
    world.register({**GITHUB_PUBLISHER, "workflow": ".github/workflows/release.yml", "environment": "Production"})
    refused(world.exchange(world.mint()), 403, "no-publisher")
    release = {"workflow_ref": "acme/widgets/.github/workflows/release.yml@refs/tags/v1"}
    refused(world.exchange(world.mint(github_claims(**release))), 403, "no-publisher")  # no environment
    refused(world.exchange(world.mint(github_claims(**release, environment="staging"))), 403, "no-publisher")
    assert world.exchange(world.mint(github_claims(**release, environment="production")))[0] == 201


def test_exchange_refuses_a_publisher_deleted_before_the_exchange(world):
    publisher = world.register()
    token = world.mint()
    assert world.api.delete(f"{PUBLISHERS}/{publisher['id']}", world.admin_token)[0] == 204
    refused(world.exchange(token), 403, "no-publisher")


def test_deleting_a_publisher_revokes_the_tokens_it_minted(world, client):
    publisher = world.register()
    minted = world.exchange(world.mint())[1]
    assert client.http.get(REPO, headers={"project-token": minted["token"]}).status_code == 200
    assert world.api.delete(f"{PUBLISHERS}/{publisher['id']}", world.admin_token)[0] == 204
    assert client.http.get(REPO, headers={"project-token": minted["token"]}).status_code == 404


def test_a_deleted_and_recreated_repository_inherits_no_trust(world, admin):
    world.register()
    token = world.mint()
    admin.delete_repository(RepositoryRef("gh", "acme", "widgets"))
    world.make.repo("gh/acme/widgets")
    refused(world.exchange(token), 403, "no-publisher")


def test_exchange_gitlab(world):
    world.register({"issuer": "gitlab", "projectId": GITLAB_PROJECT_ID, "namespaceId": GITLAB_NAMESPACE_ID,
                    "ref": "main"})
    status, minted = world.exchange(world.mint(gitlab_claims(), issuer=world.gitlab))
    assert status == 201, minted
    refused(world.exchange(world.mint(gitlab_claims(ref="feature"), issuer=world.gitlab)), 403, "no-publisher")
    refused(world.exchange(world.mint(gitlab_claims(namespace_id="56"), issuer=world.gitlab)), 403, "no-publisher")
    # A GitHub-shaped token with the same numbers from GitLab's issuer is no GitHub publisher.
    refused(world.exchange(world.mint(github_claims(repository_id=GITLAB_PROJECT_ID), issuer=world.gitlab)),
            401, "invalid-token", "missing claim project_id")


def test_exchange_picks_the_repository_when_several_trust_the_identity(world):
    world.register()
    world.make.repo("gh/acme/docs")
    world.admin.grant("gh/acme/docs", "admin")
    status, _ = world.api.post("/api/v3/organizations/gh/acme/repositories/docs/trusted-publishers",
                               world.admin_token, body=GITHUB_PUBLISHER)
    assert status == 201
    refused(world.exchange(world.mint()), 400, "invalid-payload", "several repositories")
    status, minted = world.exchange(world.mint(), repository="gh/acme/docs")
    assert status == 201 and minted["repository"] == "gh/acme/docs"


@pytest.mark.parametrize("body", [None, b"not json", b"[]", {"token": 42}, {"jwt": "x"},
                                  {"token": "a.b.c", "extra": 1}, {}])
def test_exchange_refuses_bad_payloads(world, body):
    status, answer = world.api.post("/api/v3/oidc/token", body=body)
    assert (status, answer["code"]) == (400, "invalid-payload"), answer


def test_exchange_refuses_garbage_tokens(world):
    for token in ("garbage", "a.b.c", "x" * 16_000):
        status, answer = world.exchange(token)
        assert (status, answer["code"]) == (401, "invalid-token"), answer


def test_exchange_body_too_large(world):
    status, answer = world.api.post("/api/v3/oidc/token", body=b"{" + b" " * (16 * 1024) + b"}")
    assert (status, answer["code"]) == (413, "invalid-payload")


def test_exchange_ignores_latchkey_tokens_sent_along(world):
    """Public: a latchkey token in the headers neither helps nor hurts."""
    world.register()
    status, minted = world.api.post("/api/v3/oidc/token", "garbage", body={"token": world.mint()})
    assert status == 201, minted


def test_exchange_issuer_unreachable_is_503(world, monkeypatch):
    from chalicelib import wiring

    world.register()
    wiring.install(wiring.Root(settings=world.settings, clock=world.clock))  # nothing cached yet
    world.github.fail = True
    try:
        response = world.api.client.http.request(
            "POST", "/api/v3/oidc/token", body=json.dumps({"token": world.mint()}).encode(),
            headers={"content-type": "application/json"})
    finally:
        world.github.fail = False
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert json.loads(response.body)["code"] == "unavailable"


def test_exchange_sweeps_expired_minted_tokens_at_the_limit(world, root):
    import dataclasses

    world.register()
    limited = dataclasses.replace(world.settings, max_project_tokens=2)
    world.exchange_service.tokens.settings = limited
    assert [world.exchange(world.mint())[0] for _ in range(2)] == [201, 201]
    refused(world.exchange(world.mint()), 409, "limit-reached")
    world.clock.advance(minutes=16)
    assert world.exchange(world.mint())[0] == 201
    from chalicelib.models.tokens import repository_owner
    from chalicelib.store.directory import DirectoryStore

    widgets = DirectoryStore().repository(RepositoryRef("gh", "acme", "widgets"))
    assert root.token_store.count(repository_owner(widgets.repository_id)) == 1


# -- settings ---------------------------------------------------------------------

def test_ci_oidc_issuers_setting():
    default = from_environ({})
    assert [(i.name, i.issuer, i.audience) for i in default.ci_oidc_issuers] == [
        ("github", "https://token.actions.githubusercontent.com", "latchkey"),
        ("gitlab", "https://gitlab.com", "latchkey")]
    extended = from_environ({"CI_OIDC_ISSUERS": json.dumps({
        "gitlab-acme": {"issuer": "https://gitlab.acme.example", "audience": "latchkey-acme", "kind": "gitlab"},
        "gitlab": None})})
    assert [(i.name, i.kind) for i in extended.ci_oidc_issuers] == [("github", "github"), ("gitlab-acme", "gitlab")]
    local = from_environ({"LATCHKEY_STAGE": "dev", "CI_OIDC_ISSUERS": '{"github": {"issuer": "http://127.0.0.1:9"}}'})
    assert local.ci_issuer("github").issuer == "http://127.0.0.1:9" and local.ci_issuer("github").audience == "latchkey"
    for bad in ('{"github": {"issuer": "http://127.0.0.1:9"}}', "[]", "{", '{"ghe": {"issuer": "https://x"}}',
                '{"github": {"issuer": "https://x", "secret": 1}}', '{"github": {"issuer": "ftp://x"}}'):
        with pytest.raises(SettingsError, match="CI_OIDC_ISSUERS"):
            from_environ({"LATCHKEY_STAGE": "prod", "CI_OIDC_ISSUERS": bad})
