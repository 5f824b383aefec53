"""UploadStore and the upload write path: S3 first, metadata second;
content-addressed keys; nothing points at a missing object."""
import json

import pytest

from chalicelib.access import Principal
from chalicelib.errors import Unavailable
from chalicelib.repository_ref import RepositoryRef
from chalicelib.settings import get_settings
from chalicelib.token_format import Kind
from tests import upload_bodies as b
from tests.upload_bodies import COMMIT

REPO = "gh/acme/widgets"


@pytest.fixture
def service(make, root):
    make.repo(REPO)
    return root.uploads


@pytest.fixture
def repository_id(service):
    from chalicelib.store.directory import DirectoryStore

    return int(DirectoryStore().repository(RepositoryRef.parse(REPO)).repository_id)


@pytest.fixture
def project(repository_id):
    return Principal(Kind.PROJECT, 1, repository=RepositoryRef.parse(REPO, repository_id))


def s3_keys():
    from chalicelib.store.uploads import s3_client

    listing = s3_client().list_objects_v2(Bucket=get_settings().uploads_bucket)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


def items(repository_id):
    from chalicelib.models.uploads import UploadItem, repository_key

    return list(UploadItem.query(repository_key(repository_id), consistent_read=True))


def upload(service, principal, body, language="python", partial=False, raw=None):
    raw = raw or json.dumps(body).encode()
    return service.upload_coverage(principal, None, COMMIT, language, partial, body, raw)


def readback(service, principal, **kwargs):
    """(data, pagination) of the coverage read-back, as the route renders them."""
    from chalicelib.api.v3_commits import coverage_body

    body = coverage_body(service.coverage(principal, RepositoryRef.parse(REPO), COMMIT, **kwargs))
    return body["data"], body["pagination"]


def test_ensure_tables_creates_the_bucket(aws):
    from chalicelib.store.uploads import s3_client

    names = [bucket["Name"] for bucket in s3_client().list_buckets()["Buckets"]]
    assert get_settings().uploads_bucket in names


def test_object_keys_start_with_repository_id_and_commit_under_the_prefix(service, project, repository_id):
    upload(service, project, b.coverage({"a.py": {1: 1}}), language="visual basic")
    service.upload_analysis(project, None, COMMIT, "issues", [], b"[]")
    keys = s3_keys()
    # The API's IAM policy grants the bucket's UPLOADS_PREFIX only; the
    # repository's id, never its name, so a namesake starts empty.
    assert all(key.startswith(f"uploads/{repository_id}/{COMMIT}/") for key in keys)
    assert any(key.startswith(f"uploads/{repository_id}/{COMMIT}/coverage/visual%20basic/") for key in keys)
    assert all(item.pk == f"repo#{repository_id}" for item in items(repository_id))


def test_readback_points_at_existing_objects(service, project):
    upload(service, project, b.coverage({"a.py": {1: 1}}), partial=True)
    upload(service, project, b.coverage({"b.py": {1: 1}}), language="go")
    from chalicelib.models.uploads import COVERAGE, commit_sk

    head = service.store.readback(project.repository_id, commit_sk(COMMIT, COVERAGE))
    keys = set(s3_keys())
    assert head.summary["rows"]["key"] in keys
    assert set(head.summary["languages"].values()) <= keys


def test_superseded_versions_are_removed(service, project):
    for n in range(5):
        upload(service, project, b.coverage({f"f{n}.py": {1: 1}}), partial=True)
    keys = s3_keys()
    # 5 raw reports, one language state, one set of rows: older versions gone.
    assert len(keys) == 7
    assert readback(service, project)[0]["total"]["files"] == 5


def test_s3_failure_writes_no_metadata(service, project, repository_id, monkeypatch):
    def broken(key, body):
        raise Unavailable()

    monkeypatch.setattr(service.store, "put_object", broken)
    with pytest.raises(Unavailable):
        upload(service, project, b.coverage({"a.py": {1: 1}}))
    assert items(repository_id) == []


def test_retry_rewrites_the_same_object_and_counts_once(service, project):
    body = b.coverage({"a.py": {1: 1}})
    upload(service, project, body, partial=True)
    upload(service, project, body, partial=True)
    data, _ = readback(service, project)
    assert len(data["reports"]) == 1
    assert len([k for k in s3_keys() if k.endswith(".json")]) == 1


def test_complete_report_replaces_earlier_ones_of_its_language(service, project):
    for n in range(12):
        upload(service, project, b.coverage({f"f{n}.py": {1: 1}}), partial=True)
    upload(service, project, b.coverage({"last.py": {1: 1}}))
    data, page = readback(service, project)
    assert [(r["language"], r["partial"], r["files"]) for r in data["reports"]] == [("python", False, 1)]
    assert [f["filename"] for f in data["files"]] == ["last.py"] and page["total"] == 1


def test_stored_configuration_overrides_default(service, project, repository_id):
    from chalicelib.clock import utcnow
    from chalicelib.models.uploads import CONFIGURATION, UploadItem, repository_key

    UploadItem(repository_key(repository_id), CONFIGURATION, kind=CONFIGURATION, received_at=utcnow(),
               summary={"ignoredPaths": ["vendor/**"]}).save()
    assert service.configuration(project, None) == {
        "ignoredPaths": ["vendor/**"], "defaultIgnores": [], "projectExtensions": [], "toolConfiguration": []}


def test_upload_coverage_complete_report_replaces_only_its_own_language(service, project):
    upload(service, project, b.coverage({"x.java": {1: 1}}), language="java#x", partial=True)
    upload(service, project, b.coverage({"b.java": {1: 1}}), language="java")
    files = {f["filename"] for f in readback(service, project)[0]["files"]}
    assert files == {"x.java", "b.java"}


def test_merge_matches_adding_hits(service, project):
    upload(service, project, b.coverage({"a.py": {1: 0, 2: 1}, "c.py": {9: 0}}), partial=True)
    upload(service, project, b.coverage({"a.py": {1: 2, 3: 0}, "b.py": {1: 0}}), language="go", partial=True)
    data, _ = readback(service, project)
    assert data["total"] == {"files": 3, "covered": 2, "coverable": 5, "percentage": 40.0}
    assert data["files"] == [
        {"filename": "a.py", "covered": 2, "coverable": 3, "percentage": 66.67},
        {"filename": "b.py", "covered": 0, "coverable": 1, "percentage": 0.0},
        {"filename": "c.py", "covered": 0, "coverable": 1, "percentage": 0.0},
    ]


def test_files_are_paginated(service, project):
    upload(service, project, b.coverage({f"f{n:04}.py": {1: n % 2} for n in range(250)}))
    seen, cursor, pages = [], None, 0
    while pages < 10:
        data, page = readback(service, project, limit=60, cursor=cursor)
        seen += [f["filename"] for f in data["files"]]
        pages += 1
        cursor = page.get("cursor")
        if cursor is None:
            break
    assert pages == 5 and page["total"] == 250
    assert seen == [f"f{n:04}.py" for n in range(250)]
    assert len(readback(service, project)[0]["files"]) == 100  # the default page


@pytest.mark.parametrize("setting, value, body, match", [
    ("max_coverage_files_per_commit", 2, {"a": {1: 1}, "b": {1: 1}, "c": {1: 1}}, "MAX_COVERAGE_FILES_PER_COMMIT"),
    ("max_coverage_lines_per_commit", 100, {"a": {150: 1}}, "MAX_COVERAGE_LINES_PER_COMMIT"),
])
def test_upload_coverage_bounds_name_themselves_and_store_nothing(service, project, repository_id,
                                                                 setting, value, body, match):
    import dataclasses

    from chalicelib.errors import PayloadTooLarge

    service.settings = dataclasses.replace(service.settings, **{setting: value})
    with pytest.raises(PayloadTooLarge, match=match):
        upload(service, project, b.coverage(body))
    assert items(repository_id) == [] and s3_keys() == []


def test_upload_coverage_report_count_bounded_per_commit(service, project):
    import dataclasses

    from chalicelib.errors import PayloadTooLarge

    service.settings = dataclasses.replace(service.settings, max_coverage_reports_per_commit=2)
    upload(service, project, b.coverage({"a.py": {1: 1}}), partial=True)
    upload(service, project, b.coverage({"b.py": {1: 1}}), partial=True)
    with pytest.raises(PayloadTooLarge, match="MAX_COVERAGE_REPORTS_PER_COMMIT"):
        upload(service, project, b.coverage({"c.py": {1: 1}}), partial=True)


def test_upload_coverage_bounded_per_commit(service, project):
    import dataclasses

    from chalicelib.errors import PayloadTooLarge

    body = b.coverage({"a.py": {1: 1}})
    size = len(json.dumps(body).encode())
    service.settings = dataclasses.replace(service.settings, max_coverage_bytes_per_commit=2 * size + 10)
    upload(service, project, body, partial=True)
    upload(service, project, b.coverage({"b.py": {1: 1}}), partial=True)
    with pytest.raises(PayloadTooLarge, match="replace"):
        upload(service, project, b.coverage({"c.py": {1: 1}}), partial=True)
    upload(service, project, b.coverage({"d.py": {1: 1}}))  # a complete report replaces them: room again


def test_purge_removes_everything_in_bounded_steps(service, project, repository_id, monkeypatch):
    from chalicelib.store import uploads as store_module

    monkeypatch.setattr(store_module, "PURGE_BATCH", 3)
    for n in range(4):
        upload(service, project, b.coverage({f"f{n}.py": {1: 1}}), partial=True)
    service.upload_analysis(project, None, COMMIT, "issues", [], b"[]")
    steps = []
    for _ in range(20):
        steps.append(service.store.purge_step(repository_id))
        if steps[-1] == (0, 0):
            break
    assert all(objects <= 3 and count <= 3 for objects, count in steps)
    assert len(steps) > 2 and steps[-1] == (0, 0)
    assert s3_keys() == [] and items(repository_id) == []


def test_merged_files_bound_across_reports_stores_nothing_more(service, project):
    import dataclasses

    from chalicelib.errors import PayloadTooLarge

    service.settings = dataclasses.replace(service.settings, max_coverage_files_per_commit=2)
    upload(service, project, b.coverage({"a.py": {1: 1}, "b.py": {1: 1}}), partial=True)
    before = s3_keys()
    with pytest.raises(PayloadTooLarge, match="MAX_COVERAGE_FILES_PER_COMMIT"):
        upload(service, project, b.coverage({"c.py": {1: 1}}), language="go", partial=True)
    assert s3_keys() == before
    assert readback(service, project)[0]["total"]["files"] == 2
