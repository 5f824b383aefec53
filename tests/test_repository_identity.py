"""A repository is its immutable id, not its name (issue 11, identity).

`delete-repo gh acme gadgets` then `create-repo gh acme gadgets`: the new
repository has a new id and starts empty through every read route; the
old one's uploads are gone, its trail stays readable by its organization's
admins, by id.
"""
import pytest

from chalicelib.clock import utcnow
from chalicelib.errors import Unavailable
from chalicelib.models.uploads import CONFIGURATION, UploadItem, repository_key
from chalicelib.repository_ref import RepositoryRef
from tests import upload_bodies as b
from tests.upload_bodies import COMMIT

REPO = "/api/v3/organizations/gh/acme/repositories/gadgets"
NOT_FOUND = (404, {"error": "not found"})


def s3_keys():
    from chalicelib.settings import get_settings
    from chalicelib.store.uploads import s3_client

    listing = s3_client().list_objects_v2(Bucket=get_settings().uploads_bucket)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def repository_id(admin) -> int:
    return int(admin.store.repository(RepositoryRef("gh", "acme", "gadgets")).repository_id)


def fill(api, admin, project):
    """Coverage, analysis, a configuration, tokens and events for gadgets."""
    assert api.post(f"/2.0/coverage/{COMMIT}/python", project, body=b.coverage({"a.py": {1: 1}}))[0] == 200
    assert api.post(f"/2.0/commit/{COMMIT}/coverageFinal", project, body={})[0] == 200
    issues = [b.issues("eslint", {"src/a.js": [b.issue()]})]
    assert api.post(f"/2.0/commit/{COMMIT}/issuesRemoteResults", project, body=issues)[0] == 200
    assert api.post(f"/2.0/commit/{COMMIT}/resultsFinal", project)[0] == 200
    UploadItem(repository_key(repository_id(admin)), CONFIGURATION, kind=CONFIGURATION, received_at=utcnow(),
               summary={"ignoredPaths": [{"value": "vendor/**"}]}).save()


def read_routes(api, account, project):
    """Every read route that shows something of the repository."""
    return {
        "repository": api.get(REPO, account),
        "tokens": api.get(REPO + "/tokens", account),
        "events": api.get(REPO + "/tokens/events", account),
        "coverage": api.get(f"{REPO}/commits/{COMMIT}/coverage", account),
        "coverage-by-project-token": api.get(f"{REPO}/commits/{COMMIT}/coverage", project),
        "analysis": api.get(f"{REPO}/commits/{COMMIT}/analysis", account),
        "configuration": api.get("/2.0/gh/acme/gadgets/analysis/configuration", account),
        "configuration-by-project-token": api.get("/2.0/project/analysis/configuration", project),
    }


@pytest.fixture
def world(api, make, admin):
    make.repo("gh/acme/gadgets")
    boss = make.user("boss@example.com").grant("gh/acme", "admin")
    account = boss.token()
    created = api.post(REPO + "/tokens", account)[1]["data"]
    return account, created["token"], created["id"]


def test_recreated_repository_starts_empty_through_every_read_route(api, admin, world):
    account, old_project, old_token_id = world
    fill(api, admin, old_project)
    before = read_routes(api, account, old_project)
    assert before["coverage"][1]["data"]["total"]["files"] == 1
    assert before["analysis"][1]["data"]["issues"]["total"] == 1
    assert before["configuration"][1]["ignoredPaths"] == [{"value": "vendor/**"}]
    assert before["tokens"][1]["pagination"]["total"] == 1
    assert before["events"][1]["data"]
    old_id = repository_id(admin)

    admin.delete_repository(RepositoryRef("gh", "acme", "gadgets"))
    admin.create_repository(RepositoryRef("gh", "acme", "gadgets"))
    assert repository_id(admin) != old_id
    new_project = api.post(REPO + "/tokens", account)[1]["data"]["token"]

    after = read_routes(api, account, new_project)
    assert all(status == 200 for status, _ in after.values()), after
    assert after["repository"][1]["data"]["repositoryId"] == repository_id(admin)
    assert [t["id"] for t in after["tokens"][1]["data"]] != [old_token_id]
    assert after["tokens"][1]["pagination"]["total"] == 1
    # Only the new token's creation: nothing of the predecessor's trail.
    assert [e["action"] for e in after["events"][1]["data"]] == ["token.created"]
    for route in ("coverage", "coverage-by-project-token"):
        data = after[route][1]["data"]
        assert (data["reports"], data["files"], data["final"], data["total"]["files"]) == ([], [], False, 0)
    analysis = after["analysis"][1]["data"]
    assert (analysis["issues"]["total"], analysis["issuesByFile"], analysis["resultsFinal"]) == (0, [], False)
    assert analysis["uploads"]["issues"] == 0
    for route in ("configuration", "configuration-by-project-token"):
        assert after[route][1]["ignoredPaths"] == []
    # The predecessor's project token speaks for nothing, the new repository least of all.
    assert api.get(f"{REPO}/commits/{COMMIT}/coverage", old_project) == NOT_FOUND
    assert api.get("/2.0/project/analysis/configuration", old_project) == NOT_FOUND


def test_deleting_a_repository_removes_its_uploads(api, admin, world):
    _account, project, _ = world
    fill(api, admin, project)
    old_id = repository_id(admin)
    assert s3_keys()
    admin.delete_repository(RepositoryRef("gh", "acme", "gadgets"))
    assert s3_keys() == []
    assert list(UploadItem.query(repository_key(old_id))) == []
    assert admin.store.deleted_repository("gh", "acme", old_id).purged_at is not None


def test_deletion_cut_short_hides_everything_and_resumes(api, admin, world, monkeypatch):
    account, project, _ = world
    fill(api, admin, project)
    old_id = repository_id(admin)

    def broken(self, repository_id):
        raise Unavailable()

    from chalicelib.store.uploads import UploadStore

    real = UploadStore.purge_step
    monkeypatch.setattr(UploadStore, "purge_step", broken)
    with pytest.raises(Unavailable):
        admin.delete_repository(RepositoryRef("gh", "acme", "gadgets"))
    # Until the clean-up finishes, nothing of it is readable...
    assert api.get(f"{REPO}/commits/{COMMIT}/coverage", account) == NOT_FOUND
    admin.create_repository(RepositoryRef("gh", "acme", "gadgets"))
    assert api.get(f"{REPO}/commits/{COMMIT}/coverage", account)[1]["data"]["reports"] == []
    assert list(UploadItem.query(repository_key(old_id)))  # ...though it is still stored
    # ...and running the deletion again finishes it (the namesake stays).
    monkeypatch.setattr(UploadStore, "purge_step", real)
    admin.delete_repository(RepositoryRef("gh", "acme", "gadgets"))
    assert list(UploadItem.query(repository_key(old_id))) == []
    assert all(f"/{old_id}/" not in key for key in s3_keys())


def test_deleted_repository_trail_is_readable_by_org_admins_by_id(api, admin, make, world):
    account, _project, token_id = world
    old_id = repository_id(admin)
    member = make.user("member@example.com").grant("gh/acme", "member").token()
    admin.delete_repository(RepositoryRef("gh", "acme", "gadgets"))
    path = f"/api/v3/organizations/gh/acme/audit/deleted-repositories/{old_id}/events"
    status, body = api.get(path, account)
    assert status == 200
    assert [(e["action"], e["tokenId"], e["reason"]) for e in body["data"]] == [
        ("token.deleted", token_id, "repository deleted"), ("token.created", token_id, None)]
    assert body["data"][0]["repository"] == "gh/acme/gadgets"
    assert api.get(path, member)[0] == 403
    make.repo("gh/other/x")
    make.user("other@example.com").grant("gh/other", "admin")
    other = make.admin.tokens.issue_account_token(make.admin.user("other@example.com")).value
    assert api.get(path, other) == NOT_FOUND
    assert api.get(f"/api/v3/organizations/gh/other/audit/deleted-repositories/{old_id}/events", other) == NOT_FOUND
    # A live repository's id is no deleted repository.
    make.repo("gh/acme/alive")
    alive = int(admin.store.repository(RepositoryRef("gh", "acme", "alive")).repository_id)
    assert api.get(f"/api/v3/organizations/gh/acme/audit/deleted-repositories/{alive}/events", account) == NOT_FOUND
