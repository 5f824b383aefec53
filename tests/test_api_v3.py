"""API v3 end to end through chalice.test.Client: the real authorizer (via the
local gateway), the routes, and the tables on moto."""
import dataclasses
import logging
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import token_format, wiring
from chalicelib.authorizer import TokenAuthorizer
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings
from chalicelib.token_format import Kind
from chalicelib.wiring import Root

NOT_FOUND = (404, {"error": "not found"})
REPO = "/api/v3/organizations/gh/acme/repositories/widgets"


def future(days=30):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


# -- tokens of the caller ---------------------------------------------------------


def test_account_token_create_use_revoke(api, make):
    token = make.user().token()
    status, created = api.post("/api/v3/user/tokens", token, body={"name": "ci"})
    assert status == 200
    assert created["token"].startswith("lka_") and created["name"] == "ci"
    assert set(created) == {"id", "token", "name", "hint", "createdAt", "expiresAt", "lastUsedAt", "expired",
                            # the lifecycle's (issue 16)
                            "familyId", "rotatedAt", "successorId", "scopes", "allowedCidrs", "maxUses", "uses",
                            "disabled"}
    assert api.get("/api/v3/user", created["token"])[0] == 200
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token) == (204, None)
    assert api.get("/api/v3/user", created["token"]) == NOT_FOUND


def test_account_token_create_without_body(api, make):
    status, created = api.post("/api/v3/user/tokens", make.user().token())
    assert status == 200 and created["name"] is None and created["expiresAt"] is None


def test_account_token_list_shows_metadata_never_values(api, make):
    alice = make.user()
    token = alice.token(name="laptop")
    api.get("/api/v3/user", token)
    status, body = api.get("/api/v3/user/tokens", token)
    assert status == 200
    assert body["pagination"] == {"limit": 100, "total": 1}
    [listed] = body["data"]
    assert "token" not in listed
    assert listed["name"] == "laptop" and listed["hint"] == token_format.hint(token)
    assert listed["lastUsedAt"] is not None
    assert token not in str(body)


def test_account_token_expiry_is_kept_and_enforced(api, make, monkeypatch):
    token = make.user().token()
    expires = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    status, created = api.post("/api/v3/user/tokens", token, body={"expiresAt": expires.isoformat()})
    assert status == 200 and created["expiresAt"] == expires.isoformat().replace("+00:00", "Z")
    later = expires + timedelta(seconds=1)
    wiring.root().authorizer = TokenAuthorizer(Root(clock=lambda: later))
    assert api.get("/api/v3/user", created["token"]) == (401, {"error": "token expired"})
    assert api.get("/api/v3/user", token)[0] == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "has space"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"expiresAt": "yesterday"}, "expiresAt"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"expiresAt": future(366)}, "expiresAt"),
        ({"colour": "red"}, "colour"),
        ([1, 2], "body"),
        (b"{not json", "body"),
        (b"[" * 10000, "body"),
    ],
)
def test_account_token_create_bad_input_names_the_field(api, make, body, field):
    status, answer = api.post("/api/v3/user/tokens", make.user().token(), body=body)
    assert status == 400
    assert answer["error"].startswith(field)


def test_account_token_names_unique_per_user(api, make):
    token = make.user().token()
    assert api.post("/api/v3/user/tokens", token, body={"name": "ci"})[0] == 200
    status, body = api.post("/api/v3/user/tokens", token, body={"name": "ci"})
    assert status == 409 and "name" in body["error"]
    other = make.user("bob@example.com").token()
    assert api.post("/api/v3/user/tokens", other, body={"name": "ci"})[0] == 200


def test_account_token_delete_of_another_users_token_is_not_found(api, make):
    alice, bob = make.user(), make.user("bob@example.com")
    alice_token = alice.token()
    _, created = api.post("/api/v3/user/tokens", bob.token())
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", alice_token) == NOT_FOUND
    assert api.get("/api/v3/user", created["token"])[0] == 200


@pytest.mark.parametrize("token_id", ["0", "abc", "9007199254740993", "123"])
def test_account_token_delete_unknown_id_is_not_found(api, make, token_id):
    assert api.delete(f"/api/v3/user/tokens/{token_id}", make.user().token()) == NOT_FOUND


def test_account_token_delete_twice(api, make):
    token = make.user().token()
    _, created = api.post("/api/v3/user/tokens", token)
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token)[0] == 204
    assert api.delete(f"/api/v3/user/tokens/{created['id']}", token) == NOT_FOUND


def test_account_token_list_paginates(api, make):
    token = make.user().token()
    for _ in range(4):
        api.post("/api/v3/user/tokens", token)
    seen, cursor = [], None
    while True:
        path = "/api/v3/user/tokens?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, body = api.get(path, token)
        assert status == 200 and body["pagination"]["total"] == 5 and body["pagination"]["limit"] == 2
        seen += [item["id"] for item in body["data"]]
        cursor = body["pagination"].get("cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=bm9wZQ", "cursor=%25%25"])
def test_account_token_list_bad_pagination(api, make, query):
    status, body = api.get(f"/api/v3/user/tokens?{query}", make.user().token())
    assert status == 400 and body["error"].split(":")[0] in ("limit", "cursor")


def test_account_token_limit(api, make, rewire):
    rewire(settings=dataclasses.replace(get_settings(), max_account_tokens=3))
    token = make.user().token()
    assert [api.post("/api/v3/user/tokens", token)[0] for _ in range(3)] == [200, 200, 409]
    status, body = api.post("/api/v3/user/tokens", token)
    assert (status, body) == (409, {"error": "token limit reached: at most 3 tokens"})
    status, body = api.get("/api/v3/user/tokens", token)
    assert body["pagination"]["total"] == 3


# -- answers of the gateway -----------------------------------------------------


def test_no_token_is_401(api, aws):
    status, body = api.get("/api/v3/user")
    assert status == 401 and "error" in body


@pytest.mark.parametrize("header", ["api-token", "api_token"])
def test_account_token_header_spellings(api, make, header):
    status, body = api.get("/api/v3/user", make.user().token(), header=header)
    assert status == 200
    assert body["data"]["mainEmail"] == "alice@example.com"
    assert set(body["data"]) == {"id", "name", "mainEmail", "otherEmails", "isAdmin", "isActive", "created"}


@pytest.mark.parametrize(
    "raw",
    ["garbage", token_format.generate(Kind.ACCOUNT), token_format.generate(Kind.ACCOUNT)[:-1] + "x"],
    ids=["garbage", "unknown", "bad-checksum"],  # stable ids: the values are random
)
def test_malformed_or_unknown_token_is_not_found(api, aws, raw):
    assert api.get("/api/v3/user", raw, header="api-token") == NOT_FOUND


def test_two_different_tokens_are_rejected(api, make):
    alice = make.user()
    status, body = api.get("/api/v3/user", alice.token(), headers={"api_token": alice.token()})
    assert status == 400 and "two different tokens" in body["error"]


def test_same_token_under_both_spellings_works(api, make):
    token = make.user().token()
    assert api.get("/api/v3/user", token, headers={"api_token": token})[0] == 200


def test_disabled_user_tokens_stop_working(api, make, admin):
    alice = make.user()
    token = alice.token()
    admin.disable_user(alice.email)
    assert api.get("/api/v3/user", token) == NOT_FOUND


def test_method_not_allowed_answers_json_error(api, make):
    status, body = api.call("PUT", "/api/v3/user", make.user().token())
    assert status == 405 and "error" in body


def test_unexpected_failure_is_500_with_request_id_in_log(api, make, monkeypatch, caplog):
    token = make.user().token()

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("chalicelib.services.directory.DirectoryService.user", boom)
    # "latchkey" is also the Chalice app's logger, which does not propagate.
    logger = logging.getLogger("latchkey")
    logger.addHandler(caplog.handler)
    try:
        status, body = api.get("/api/v3/user", token)
    finally:
        logger.removeHandler(caplog.handler)
    assert status == 500
    assert body["error"] == "internal error" and body["requestId"]
    assert body["requestId"] in caplog.text and "kaboom" in caplog.text


# -- organizations and repositories --------------------------------------------------


@pytest.fixture
def acme(make):
    make.repo("gh/acme/widgets")
    make.repo("gh/acme/gadgets")
    make.repo("gh/other/secret")
    return make


def test_organizations_lists_memberships(api, acme):
    alice = acme.user().grant("gh/acme", "admin")
    acme.org("gl/side")
    alice.grant("gl/side", "member")
    status, body = api.get("/api/v3/user/organizations", alice.token())
    assert status == 200
    assert [(o["provider"], o["name"], o["userRole"]) for o in body["data"]] == [
        ("gh", "acme", "admin"), ("gl", "side", "member"),
    ]
    assert body["pagination"]["total"] == 2


def test_repositories_org_admin_sees_all(api, acme):
    token = acme.user().grant("gh/acme", "admin").token()
    status, body = api.get("/api/v3/organizations/gh/acme/repositories", token)
    assert status == 200
    assert [(r["name"], r["permission"]) for r in body["data"]] == [("gadgets", "admin"), ("widgets", "admin")]


def test_repositories_member_sees_granted_only(api, acme):
    token = acme.user().grant("gh/acme", "member").grant("gh/acme/widgets", "read").token()
    _status, body = api.get("/api/v3/organizations/gh/acme/repositories", token)
    assert [(r["name"], r["permission"]) for r in body["data"]] == [("widgets", "read")]
    assert api.get(REPO.replace("widgets", "gadgets"), token) == NOT_FOUND


def test_repositories_of_foreign_org_not_found(api, acme):
    token = acme.user().grant("gh/acme", "admin").token()
    assert api.get("/api/v3/organizations/gh/other/repositories", token) == NOT_FOUND
    assert api.get("/api/v3/organizations/gh/other/repositories/secret", token) == NOT_FOUND
    assert api.get("/api/v3/organizations/xx/acme/repositories", token) == NOT_FOUND


def test_repository_shape(api, acme):
    token = acme.user().grant("gh/acme/widgets", "write").token()
    status, body = api.get(REPO, token)
    assert status == 200
    data = body["data"]
    assert {k: data[k] for k in ("provider", "owner", "name", "fullPath", "permission")} == {
        "provider": "gh", "owner": "acme", "name": "widgets", "fullPath": "acme/widgets", "permission": "write",
    }
    assert isinstance(data["repositoryId"], int)


def test_project_token_sees_its_repository_only(api, acme):
    token = acme.project_token("gh/acme/widgets")
    assert api.get(REPO, token)[0] == 200
    _status, body = api.get("/api/v3/organizations/gh/acme/repositories", token)
    assert [r["name"] for r in body["data"]] == ["widgets"]
    assert api.get(REPO.replace("widgets", "gadgets"), token) == NOT_FOUND
    assert api.get("/api/v3/organizations/gh/other/repositories", token) == NOT_FOUND


@pytest.mark.parametrize("path", ["/api/v3/user", "/api/v3/user/tokens", "/api/v3/user/organizations",
                                  "/api/v3/user/organizations/gh", "/api/v3/user/organizations/gh/acme"])
def test_project_token_on_user_routes_is_forbidden(api, acme, path):
    status, body = api.get(path, acme.project_token("gh/acme/widgets"))
    assert status == 403 and "account" in body["error"]


def test_access_is_judged_live(api, acme, admin):
    alice = acme.user().grant("gh/acme/widgets", "read")
    token = alice.token()
    assert api.get(REPO, token)[0] == 200
    admin.revoke_access(alice.email, "gh/acme/widgets")
    assert api.get(REPO, token) == NOT_FOUND
    alice.grant("gh/acme", "admin")
    assert api.get(REPO, token)[0] == 200


# -- project tokens -----------------------------------------------------------------


@pytest.mark.parametrize(
    "grant, create_status",
    [
        (("gh/acme", "admin"), 201),
        (("gh/acme/widgets", "admin"), 201),
        (("gh/acme/widgets", "write"), 403),
        (("gh/acme/widgets", "read"), 403),
        (("gh/acme", "member"), 404),
        (("gh/acme/gadgets", "admin"), 404),
    ],
)
def test_project_token_management_needs_admin(api, acme, grant, create_status):
    token = acme.user().grant(*grant).token()
    status, body = api.post(REPO + "/tokens", token)
    assert status == create_status
    if status == 201:
        assert body["data"]["token"].startswith("lkp_")
    assert api.get(REPO + "/tokens", token)[0] == (200 if create_status == 201 else create_status)


def test_project_token_create_list_delete(api, acme):
    admin_token = acme.user().grant("gh/acme/widgets", "admin").token()
    status, body = api.post(REPO + "/tokens", admin_token, body={"name": "ci", "expiresAt": future()})
    assert status == 201
    project = body["data"]
    assert api.get(REPO, project["token"])[0] == 200
    status, listed = api.get(REPO + "/tokens", admin_token)
    assert [t["id"] for t in listed["data"]] == [project["id"]]
    assert "token" not in listed["data"][0]
    assert api.delete(f"{REPO}/tokens/{project['id']}", admin_token) == (204, None)
    assert api.get(REPO, project["token"]) == NOT_FOUND


def test_project_token_cannot_manage_tokens(api, acme):
    token = acme.project_token("gh/acme/widgets")
    status, body = api.post(REPO + "/tokens", token)
    assert status == 403 and "project tokens cannot manage tokens" in body["error"]
    assert api.get(REPO + "/tokens", token)[0] == 403


def test_project_token_of_another_repository_cannot_be_deleted_here(api, acme):
    admin_token = acme.user().grant("gh/acme", "admin").token()
    _, body = api.post(REPO.replace("widgets", "gadgets") + "/tokens", admin_token)
    other_id = body["data"]["id"]
    assert api.delete(f"{REPO}/tokens/{other_id}", admin_token) == NOT_FOUND
    assert api.get(REPO.replace("widgets", "gadgets"), body["data"]["token"])[0] == 200


def test_project_token_outlives_its_creator(api, acme, admin):
    creator = acme.user().grant("gh/acme/widgets", "admin")
    _, body = api.post(REPO + "/tokens", creator.token())
    project = body["data"]["token"]
    admin.revoke_access(creator.email, "gh/acme/widgets")
    assert api.get(REPO, project)[0] == 200
    admin.disable_user(creator.email)
    assert api.get(REPO, project)[0] == 200


def test_project_token_dies_with_its_repository(api, acme, admin):
    project = acme.project_token("gh/acme/widgets")
    admin.delete_repository(RepositoryRef("gh", "acme", "widgets"))
    assert api.get(REPO, project) == NOT_FOUND
    acme.repo("gh/acme/widgets")  # a new repository of the same name
    assert api.get(REPO, project) == NOT_FOUND


def test_project_token_names_unique_per_repository(api, acme):
    token = acme.user().grant("gh/acme", "admin").token()
    assert api.post(REPO + "/tokens", token, body={"name": "ci"})[0] == 201
    assert api.post(REPO + "/tokens", token, body={"name": "ci"})[0] == 409
    assert api.post(REPO.replace("widgets", "gadgets") + "/tokens", token, body={"name": "ci"})[0] == 201


def test_project_token_in_account_header_is_rejected(api, acme):
    status, body = api.get(REPO, acme.project_token("gh/acme/widgets"), header="api-token")
    assert status == 400 and "wrong header" in body["error"]


def test_no_table_holds_a_plaintext_token(api, acme):
    import boto3

    admin_token = acme.user().grant("gh/acme", "admin").token()
    values = [admin_token]
    values.append(api.post("/api/v3/user/tokens", admin_token, body={"name": "a"})[1]["token"])
    values.append(api.post(REPO + "/tokens", admin_token, body={"name": "b"})[1]["data"]["token"])
    for value in values:
        api.get(REPO, value)
    dynamodb = boto3.client("dynamodb")
    dump = ""
    for table in dynamodb.list_tables()["TableNames"]:
        dump += str(dynamodb.scan(TableName=table)["Items"])
    assert dump and "lka_..." in dump  # hints are there
    for value in values:
        assert value not in dump and value[4:] not in dump and value[4:20] not in dump


# -- the shapes Codacy's generated clients expect (codacy-compat.md) ---------------

def test_organizations_of_one_provider_and_one_organization(api, acme, admin):
    admin.create_organization("gh", "alice", personal=True)
    acme.org("gl/side")
    alice = acme.user().grant("gh/acme", "admin").grant("gh/alice", "admin").grant("gl/side", "member")
    alice.grant("gh/other/secret", "read")  # a repository grant alone makes "other" visible
    token = alice.token()
    status, body = api.get("/api/v3/user/organizations/gh", token)
    assert status == 200
    assert [(o["name"], o["type"], o.get("userRole")) for o in body["data"]] == [
        ("acme", "Organization", "admin"), ("alice", "Account", "admin"), ("other", "Organization", None)]
    assert body["pagination"] == {"limit": 100, "total": 3}
    _status, body = api.get("/api/v3/user/organizations/gh?limit=2", token)
    assert [o["name"] for o in body["data"]] == ["acme", "alice"] and body["pagination"]["cursor"]
    _status, rest = api.get(f"/api/v3/user/organizations/gh?limit=2&cursor={body['pagination']['cursor']}", token)
    assert [o["name"] for o in rest["data"]] == ["other"]
    assert [o["name"] for o in api.get("/api/v3/user/organizations/gl", token)[1]["data"]] == ["side"]
    assert api.get("/api/v3/user/organizations/bb", token)[1]["data"] == []

    status, body = api.get("/api/v3/user/organizations/gh/alice", token)
    assert status == 200
    assert body["data"] == {"name": "alice", "provider": "gh", "type": "Account", "userRole": "admin",
                            "remoteIdentifier": body["data"]["remoteIdentifier"],
                            "identifier": int(body["data"]["remoteIdentifier"])}
    assert api.get("/api/v3/user/organizations/gl/side", token)[1]["data"]["userRole"] == "member"
    assert "userRole" not in api.get("/api/v3/user/organizations/gh/other", token)[1]["data"]


@pytest.mark.parametrize("path", ["/api/v3/user/organizations/gh/nowhere", "/api/v3/user/organizations/gl/acme",
                                  "/api/v3/user/organizations/xx/acme", "/api/v3/user/organizations/xx"])
def test_organization_the_user_is_not_in_is_not_found(api, acme, path):
    token = acme.user().grant("gh/acme", "member").token()
    assert api.get(path, token) == NOT_FOUND


def test_repository_carries_codacys_required_fields(api, acme, admin):
    admin.create_repository(RepositoryRef("gh", "acme", "open"), public=True)
    token = acme.user().grant("gh/acme", "admin").token()
    _status, body = api.get("/api/v3/organizations/gh/acme/repositories", token)
    shapes = {r["name"]: (r["visibility"], r["languages"], r["problems"], r["addedState"]) for r in body["data"]}
    assert shapes == {"gadgets": ("Private", [], [], "Added"), "open": ("Public", [], [], "Added"),
                      "widgets": ("Private", [], [], "Added")}
    assert api.get(REPO.replace("widgets", "open"), acme.project_token("gh/acme/open"))[1]["data"]["visibility"] == (
        "Public")


@pytest.mark.parametrize("who", ["org_admin", "member", "project"])
def test_repository_search_filters_by_name(api, acme, admin, who):
    admin.create_repository(RepositoryRef("gh", "acme", "Widget-Tools"))
    if who == "org_admin":
        token = acme.user().grant("gh/acme", "admin").token()
        expected = {"widg": ["Widget-Tools", "widgets"], "GADG": ["gadgets"], "zzz": []}
    elif who == "member":
        token = acme.user().grant("gh/acme", "member").grant("gh/acme/widgets", "read").grant(
            "gh/acme/gadgets", "write").token()
        expected = {"widg": ["widgets"], "GADG": ["gadgets"], "zzz": []}
    else:
        token = acme.project_token("gh/acme/widgets")
        expected = {"widg": ["widgets"], "GADG": [], "zzz": []}
    for term, names in expected.items():
        status, body = api.get(f"/api/v3/organizations/gh/acme/repositories?search={term}", token)
        assert status == 200
        assert [r["name"] for r in body["data"]] == names, term
        assert body["pagination"]["total"] == len(names)


def test_repository_search_paginates_and_is_bounded(api, acme, admin):
    for n in range(5):
        admin.create_repository(RepositoryRef("gh", "acme", f"lib-{n}"))
    token = acme.user().grant("gh/acme", "admin").token()
    seen, cursor = [], None
    for _ in range(5):
        path = "/api/v3/organizations/gh/acme/repositories?search=LIB&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(path, token)[1]
        seen += [r["name"] for r in body["data"]]
        cursor = body["pagination"].get("cursor")
        if not cursor:
            break
    assert seen == [f"lib-{n}" for n in range(5)]
    status, body = api.get("/api/v3/organizations/gh/acme/repositories?search=" + "x" * 101, token)
    assert (status, body) == (400, {"error": "search: at most 100 characters"})
