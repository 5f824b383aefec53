"""UploadStore and the upload write path: S3 first, metadata second;
content-addressed keys; nothing points at a missing object."""
import json

import pytest

from chalicelib.access import Principal
from chalicelib.errors import Unavailable
from chalicelib.settings import get_settings
from chalicelib.token_format import Kind
from tests import upload_bodies as b
from tests.upload_bodies import COMMIT

REPO = "gh/acme/widgets"
PROJECT = Principal(Kind.PROJECT, 1, repository=REPO)


@pytest.fixture
def service(make):
    from chalicelib.services.uploads import UploadService

    make.repo(REPO)
    return UploadService()


def s3_keys():
    from chalicelib.store.uploads import s3_client

    listing = s3_client().list_objects_v2(Bucket=get_settings().uploads_bucket)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def upload(service, body, language="python", partial=False, raw=None):
    import json

    raw = raw or json.dumps(body).encode()
    return service.upload_coverage(PROJECT, None, COMMIT, language, partial, body, raw)


def test_ensure_tables_creates_the_bucket(aws):
    from chalicelib.store.uploads import s3_client

    names = [bucket["Name"] for bucket in s3_client().list_buckets()["Buckets"]]
    assert get_settings().uploads_bucket in names


def test_object_keys_start_with_repository_and_commit_under_the_prefix(service):
    upload(service, b.coverage({"a.py": {1: 1}}), language="visual basic")
    service.upload_analysis(PROJECT, None, COMMIT, "issues", [], b"[]")
    keys = s3_keys()
    assert len(keys) == 2
    # The API's IAM policy grants the bucket's UPLOADS_PREFIX only.
    assert all(key.startswith(f"uploads/{REPO}/{COMMIT}/") for key in keys)
    assert any(key.startswith(f"uploads/{REPO}/{COMMIT}/coverage/visual%20basic/") for key in keys)


def test_every_item_points_at_an_existing_object(service):
    upload(service, b.coverage({"a.py": {1: 1}}), partial=True)
    upload(service, b.coverage({"b.py": {1: 1}}), language="go")
    service.upload_analysis(PROJECT, None, COMMIT, "metrics", [], b"[] ")
    items = service.store.commit_items(REPO, COMMIT)
    keys = set(s3_keys())
    pointed = [item.object_key for item in items if item.object_key]
    assert len(pointed) == 3 and set(pointed) <= keys


def test_s3_failure_writes_no_metadata(service, monkeypatch):
    def broken(key, body):
        raise Unavailable()

    monkeypatch.setattr(service.store, "put_object", broken)
    with pytest.raises(Unavailable):
        upload(service, b.coverage({"a.py": {1: 1}}))
    assert service.store.commit_items(REPO, COMMIT) == []


def test_retry_rewrites_the_same_object_and_item(service):
    body = b.coverage({"a.py": {1: 1}})
    upload(service, body, partial=True)
    upload(service, body, partial=True)
    assert len(s3_keys()) == 1
    assert len(service.store.commit_items(REPO, COMMIT)) == 1


def test_complete_report_keeps_replaced_objects_but_drops_their_items(service):
    upload(service, b.coverage({"a.py": {1: 1}}), partial=True)
    upload(service, b.coverage({"b.py": {1: 1}}), partial=True)
    upload(service, b.coverage({"c.py": {1: 0}}))
    items = service.store.commit_items(REPO, COMMIT)
    assert [(i.language, i.partial) for i in items] == [("python", False)]
    assert len(s3_keys()) == 3  # raw uploads stay; nothing refers to the old two


def test_replacing_more_than_one_transaction_of_reports(service):
    for n in range(120):
        upload(service, b.coverage({f"f{n}.py": {1: 1}}), partial=True)
    upload(service, b.coverage({"last.py": {1: 1}}))
    assert [i.summary["files"] for i in service.store.commit_items(REPO, COMMIT)] == [1]


def test_stored_configuration_overrides_default(service):
    from chalicelib.models.uploads import CONFIGURATION, UploadItem
    from chalicelib.clock import utcnow

    UploadItem(REPO, CONFIGURATION, kind=CONFIGURATION, received_at=utcnow(),
               summary={"ignoredPaths": ["vendor/**"]}).save()
    assert service.configuration(PROJECT, None) == {
        "ignoredPaths": ["vendor/**"], "defaultIgnores": [], "projectExtensions": [], "toolConfiguration": []}


def test_upload_coverage_complete_report_replaces_only_its_own_language(service):
    upload(service, b.coverage({"x.java": {1: 1}}), language="java#x", partial=True)
    upload(service, b.coverage({"b.java": {1: 1}}), language="java")
    files = {f["filename"] for f in service.coverage(PROJECT, *REPO.split("/"), COMMIT)["files"]}
    assert files == {"x.java", "b.java"}


def test_upload_coverage_bounded_per_commit(service):
    import dataclasses

    from chalicelib.errors import PayloadTooLarge

    body = b.coverage({"a.py": {1: 1}})
    size = len(json.dumps(body).encode())
    service.settings = dataclasses.replace(service.settings, max_coverage_bytes_per_commit=2 * size + 10)
    upload(service, body, partial=True)
    upload(service, b.coverage({"b.py": {1: 1}}), partial=True)
    with pytest.raises(PayloadTooLarge, match="replace"):
        upload(service, b.coverage({"c.py": {1: 1}}), partial=True)
    upload(service, b.coverage({"d.py": {1: 1}}))  # a complete report replaces them: room again
