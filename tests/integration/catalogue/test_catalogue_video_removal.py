"""A video that never went public, against the real PostgreSQL, ffmpeg and S3Proxy: a failed one is
transcoded again from its kept master (409 once that is gone), and one never published is deleted
with its rows and its files, from a folder or a bucket, even while a transcoder works on it (which
then stores nothing that stays). A published or withdrawn video is never deleted."""

import dataclasses
import uuid
from pathlib import Path

import psycopg
import pytest

from catalogue.adapters import job_store, upload_store
from catalogue.adapters.storage import LocalStorage, S3Storage
from catalogue.adapters.upload_locks import pg_lock
from catalogue.adapters.upload_parts import S3UploadArea
from catalogue.entrypoints.app import create_app
from catalogue.service_layer.transcoder import Transcoder
from tests.integration.catalogue.conftest import editor, unique_word
from tests.integration.catalogue.test_catalogue_publishing import (  # noqa: F401 # the fixture shared with it
    TUS,
    ServedCatalogue,
    outbox_events,
    served,
    submit,
    tus_upload,
)
from tests.support.catalogue import small_video
from tests.support.s3 import S3Server


def fail(running: ServedCatalogue, video_id: str, reason: str = "ffmpeg failed: the disk went away") -> None:
    """The video's transcoding failed (as the transcoder fails it)."""
    with psycopg.connect(running.catalogue.settings.database_url) as conn:
        job_store.fail_job(conn, uuid.UUID(video_id), reason)


def rows(running: ServedCatalogue, video_id: str) -> dict[str, int]:
    """How many rows of each table are the video's."""
    counted = {}
    with psycopg.connect(running.catalogue.settings.database_url) as conn:
        for table, column in (("videos", "id"), ("renditions", "video_id"), ("transcode_jobs", "video_id"),
                              ("uploads", "video_id")):  # fmt: skip
            found = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (uuid.UUID(video_id),))
            counted[table] = found.fetchone()[0]  # type: ignore[index]
    return counted


def folder(running: ServedCatalogue, video_id: str) -> Path:
    return Path(running.catalogue.settings.storage_root) / "videos" / video_id


def test_a_failed_video_is_transcoded_again_from_its_master(served, tmp_path):  # noqa: F811
    video = submit(served, tus_upload(served, small_video(tmp_path / "m.mp4", size="320x240", seconds=0.5)))
    path = f"/v1/videos/{video['id']}"
    assert served.client.post(f"{path}/transcoding", headers=editor()).status_code == 409  # not failed
    fail(served, video["id"])
    assert served.client.get(path, headers=editor()).json["status"] == "failed"

    retried = served.client.post(f"{path}/transcoding", headers=editor())
    assert (retried.status_code, retried.json) == (202, {"id": video["id"], "status": "processing"})
    again = served.client.get(path, headers=editor()).json
    assert (again["status"], again["progress"], again["failure"]) == ("processing", 0, None)
    assert Transcoder(served.catalogue).run_once() is True
    ready = served.client.get(path, headers=editor()).json
    assert (ready["status"], ready["deletable"]) == ("ready", True)
    actions = [
        e["data"]["action"]
        for e in outbox_events(served, video["id"])
        if e["type"] == "OperatorActionRecorded"
    ]
    assert actions == ["video.created", "video.retried"]
    assert not [e for e in outbox_events(served, video["id"]) if e["topic"] == "catalogue.video-events.v1"]


def test_a_failed_video_whose_master_is_gone_is_not_retried(served, tmp_path):  # noqa: F811
    video = submit(served, tus_upload(served, small_video(tmp_path / "g.mp4", size="320x240", seconds=0.5)))
    fail(served, video["id"])
    (folder(served, video["id"]) / "master").unlink()
    refused = served.client.post(f"/v1/videos/{video['id']}/transcoding", headers=editor())
    assert refused.status_code == 409 and refused.json["type"].endswith("/master-gone")
    assert "no longer in storage" in refused.json["detail"]
    assert served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json["status"] == "failed"
    unknown = served.client.post(f"/v1/videos/{uuid.uuid4()}/transcoding", headers=editor())
    assert unknown.status_code == 404
    assert served.client.post(f"/v1/videos/{video['id']}/transcoding").status_code == 401


def test_a_failed_video_is_deleted_with_its_rows_and_files(served, tmp_path):  # noqa: F811
    video = submit(served, tus_upload(served, small_video(tmp_path / "d.mp4", size="320x240", seconds=0.5)))
    LocalStorage(served.catalogue.settings.storage_root).write(f"videos/{video['id']}/240p.mp4", b"half")
    fail(served, video["id"])
    path = f"/v1/videos/{video['id']}"
    assert served.client.get(path, headers=editor()).json["deletable"] is True
    assert served.client.delete(path).status_code == 401
    assert served.client.delete(path, headers=editor()).status_code == 204
    assert served.client.get(path, headers=editor()).status_code == 404
    assert not folder(served, video["id"]).exists()  # the master and a rendition of the failed try
    assert rows(served, video["id"]) == {"videos": 0, "renditions": 0, "transcode_jobs": 0, "uploads": 0}
    actions = [
        e["data"]["action"]
        for e in outbox_events(served, video["id"])
        if e["type"] == "OperatorActionRecorded"
    ]
    assert actions == ["video.created", "video.deleted"]
    assert served.client.delete(path, headers=editor()).status_code == 404


def test_a_ready_video_never_published_is_deleted_and_a_withdrawn_one_stays(served, tmp_path):  # noqa: F811
    video = submit(served, tus_upload(served, small_video(tmp_path / "r.mp4", size="320x240", seconds=0.5)))
    assert Transcoder(served.catalogue).run_once() is True
    path = f"/v1/videos/{video['id']}"
    assert served.client.post(f"{path}/publication", headers=editor()).status_code == 200
    refused = served.client.delete(path, headers=editor())
    assert refused.status_code == 409 and "withdraw" in refused.json["detail"]
    assert served.client.delete(f"{path}/publication", headers=editor()).status_code == 204
    withdrawn = served.client.get(path, headers=editor()).json
    assert (withdrawn["status"], withdrawn["deletable"]) == ("ready", False)
    assert served.client.delete(path, headers=editor()).status_code == 409  # announced once: it stays
    assert len(list(folder(served, video["id"]).iterdir())) > 1

    never = submit(served, tus_upload(served, small_video(tmp_path / "n.mp4", size="320x240", seconds=0.5)))
    assert Transcoder(served.catalogue).run_once() is True
    assert served.client.delete(f"/v1/videos/{never['id']}", headers=editor()).status_code == 204
    assert not folder(served, never["id"]).exists()
    assert rows(served, never["id"])["renditions"] == 0


def test_a_video_deleted_while_it_is_transcoded_is_not_brought_back(served, tmp_path, monkeypatch):  # noqa: F811
    video = submit(served, tus_upload(served, small_video(tmp_path / "t.mp4", size="1280x720", seconds=0.5)))
    storage_class, stored = type(served.catalogue.storage), []
    put = storage_class.put

    def deleted_meanwhile(self, key, source):  # type: ignore[no-untyped-def]
        if len(stored) == 1:  # the first rendition is stored: the editor deletes the video now
            assert served.client.delete(f"/v1/videos/{video['id']}", headers=editor()).status_code == 204
        stored.append(key)
        put(self, key, source)  # this file lands after the deletion

    monkeypatch.setattr(storage_class, "put", deleted_meanwhile)
    assert Transcoder(served.catalogue, "worker-deleted").run_once() is True
    assert len(stored) == 2  # then the worker saw its job gone and stored nothing more
    assert not folder(served, video["id"]).exists()  # and removed what it had stored
    assert rows(served, video["id"]) == {"videos": 0, "renditions": 0, "transcode_jobs": 0, "uploads": 0}


@pytest.fixture
def in_bucket(make_catalogue, s3: S3Server):  # type: ignore[no-untyped-def]
    """The catalogue with its files and uploads in a bucket of its own (CATALOGUE_STORAGE=s3://…)."""
    bucket = s3.new_bucket()
    base = make_catalogue(storage=f"s3://{bucket}/media")
    storage = S3Storage(bucket, "media", client=s3.client())
    area = S3UploadArea(storage, pg_lock(base.settings.database_url))
    catalogue = dataclasses.replace(base, storage=storage, uploads=area)
    return catalogue, create_app(catalogue).test_client(), s3.client(), bucket


def test_a_failed_video_is_deleted_from_the_bucket(in_bucket):
    catalogue, client, s3, bucket = in_bucket
    created = client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "12"})
    upload = created.headers["Location"].removeprefix(catalogue.settings.public_url)
    body = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert client.patch(upload, data=b"master bytes", headers=editor() | TUS | body).status_code == 204
    answer = client.post("/v1/videos", json={"upload_url": created.headers["Location"],
                                             "title": {"en": unique_word()}}, headers=editor())  # fmt: skip
    video_id = answer.json["id"]
    catalogue.storage.put_file(f"videos/{video_id}/360p.mp4", Path(__file__))  # a failed try's rendition
    with psycopg.connect(catalogue.settings.database_url) as conn:
        job_store.fail_job(conn, uuid.UUID(video_id), "ffmpeg failed")

    master = f"media/uploads/{uuid.UUID(upload.rsplit('/', 1)[-1]).hex}"  # the completed multipart upload
    held = [f"media/videos/{video_id}/360p.mp4", master]
    assert [key for key in held if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents")] == held
    assert client.delete(f"/v1/videos/{video_id}", headers=editor()).status_code == 204
    assert [key for key in held if s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents")] == []


def test_a_form_sent_again_as_its_video_is_deleted_is_no_upload_not_a_500(served, tmp_path, monkeypatch):  # noqa: F811
    # The form sent twice (a double click, a timeout) while the editor deletes the video in another
    # tab: the second submission read the upload, made into that video, just before the deletion.
    upload_url = tus_upload(served, small_video(tmp_path / "twice.mp4", size="320x240", seconds=0.5))
    video = submit(served, upload_url)
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        [(upload_id,)] = conn.execute("SELECT id FROM uploads WHERE video_id = %s", (uuid.UUID(video["id"]),))
    read_before = upload_store.find_upload
    with served.catalogue.pool.connection() as conn:
        as_read = read_before(conn, upload_id)
    assert served.client.delete(f"/v1/videos/{video['id']}", headers=editor()).status_code == 204
    monkeypatch.setattr(upload_store, "find_upload", lambda conn, found_id, **_: as_read)
    again = served.client.post("/v1/videos", json={"upload_url": upload_url, "title": {"en": "Again"}},
                               headers=editor())  # fmt: skip
    assert again.status_code == 422 and "upload_url" in again.json["errors"], again.json
