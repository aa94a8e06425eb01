"""A full disk under the catalogue, against the real PostgreSQL and ffmpeg: a tus PATCH or a submission
answers 507 insufficient-storage (never a 500) and the upload resumes once room is made; a transcode
whose working files cannot be written is given back for later, its attempt not counted, and is done
once room is made. The real ENOSPC comes from /dev/full."""

import errno
import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY

from catalogue.adapters import transcoding
from catalogue.adapters.upload_area import CHUNK_BYTES
from catalogue.service_layer.transcoder import Transcoder
from tests.integration.catalogue.conftest import editor, unique_word
from tests.integration.catalogue.test_catalogue_publishing import (  # noqa: F401 # the fixture shared with it
    TUS,
    ServedCatalogue,
    served,
    submit,
    tus_upload,
)
from tests.support.catalogue import small_video

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")


def disk_full_count(where: str) -> float:
    return REGISTRY.get_sample_value("catalogue_disk_full_total", {"where": where}) or 0.0


def upload_file(running: ServedCatalogue, path: str) -> Path:
    return Path(running.catalogue.settings.upload_root) / path.rsplit("/", 1)[-1].replace("-", "")


def test_a_patch_on_a_full_disk_is_507_and_the_upload_resumes_once_room_is_made(served):  # noqa: F811
    created = served.client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "8"})
    path = created.headers["Location"].removeprefix(served.url)
    stored = upload_file(served, path)
    stored.unlink()
    stored.symlink_to(FULL)  # the upload area's disk is full: every write to the file fails (ENOSPC)
    before = disk_full_count("upload")
    body = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    refused = served.client.patch(path, data=b"12345678", headers=editor() | TUS | body)
    assert refused.status_code == 507, refused.data
    assert refused.content_type == "application/problem+json"
    assert refused.json["type"].endswith("/insufficient-storage") and "disk is full" in refused.json["detail"]
    assert refused.headers["Tus-Resumable"] == "1.0.0"
    assert disk_full_count("upload") == before + 1
    assert served.client.head(path, headers=editor() | TUS).headers["Upload-Offset"] == "0"

    stored.unlink()
    stored.touch()  # room again
    resumed = served.client.patch(path, data=b"12345678", headers=editor() | TUS | body)
    assert (resumed.status_code, resumed.headers["Upload-Offset"]) == (204, "8")
    assert stored.read_bytes() == b"12345678"


def uploaded_bytes() -> float:
    return REGISTRY.get_sample_value("catalogue_upload_bytes_total") or 0.0


def test_the_chunks_a_patch_kept_before_the_disk_filled_up_are_counted_as_uploaded(
    served,  # noqa: F811
    monkeypatch,
):
    length = CHUNK_BYTES + 8
    created = served.client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": str(length)})
    path = created.headers["Location"].removeprefix(served.url)
    stored = upload_file(served, path)
    real_write, to_the_upload = os.write, []

    def filling_up(descriptor: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{descriptor}") != str(stored):
            return real_write(descriptor, data)
        to_the_upload.append(len(data))
        if len(to_the_upload) > 1:  # the first chunk fits, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", filling_up)
    before = uploaded_bytes()
    body = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    refused = served.client.patch(path, data=b"x" * length, headers=editor() | TUS | body)
    monkeypatch.undo()
    assert refused.status_code == 507, refused.data
    assert served.client.head(path, headers=editor() | TUS).headers["Upload-Offset"] == str(CHUNK_BYTES)
    assert uploaded_bytes() - before == CHUNK_BYTES, "the chunk kept is a chunk received"


def test_a_submission_on_a_full_disk_is_507_and_the_upload_stays_whole(
    served,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    (tmp_path / "master.bin").write_bytes(b"master bytes")
    upload_url = tus_upload(served, tmp_path / "master.bin")

    def elsewhere(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")  # storage on another disk: a copy…

    def full(source, target, length):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # …which that disk has no room for

    monkeypatch.setattr(os, "link", elsewhere)
    monkeypatch.setattr(shutil, "copyfileobj", full)
    body = {"upload_url": upload_url, "title": {"en": unique_word()}}
    refused = served.client.post("/v1/videos", json=body, headers=editor())
    monkeypatch.undo()
    assert refused.status_code == 507 and refused.json["type"].endswith("/insufficient-storage")
    head = served.client.head(upload_url.removeprefix(served.url), headers=editor() | TUS)
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, "12")
    assert not list(Path(served.catalogue.settings.storage_root).glob("videos/*/.*.part"))
    submit(served, upload_url)  # room again: the same upload becomes a video


def job_row(running: ServedCatalogue, video_id: str) -> tuple[int, bool, bool]:
    """The job's attempts, whether it is finished, and whether it waits for later."""
    with psycopg.connect(running.catalogue.settings.database_url) as conn:
        row = conn.execute(
            """SELECT attempts, finished_at IS NOT NULL, lease_expires_at > now() FROM transcode_jobs
               WHERE video_id = %s""",
            (uuid.UUID(video_id),),
        ).fetchone()
    assert row is not None
    return row


def test_a_transcode_on_a_full_disk_is_tried_again_later_and_never_fails_for_it(
    served,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    video = submit(served, tus_upload(served, small_video(tmp_path / "m.mp4", size="320x240", seconds=0.5)))
    making = transcoding.renditions_for

    def onto_a_full_disk(source, folder):  # type: ignore[no-untyped-def]
        outputs = making(source, folder)
        outputs[0].path.symlink_to(FULL)  # ffmpeg's first output cannot be written: ENOSPC
        return outputs

    monkeypatch.setattr(transcoding, "renditions_for", onto_a_full_disk)
    before = disk_full_count("transcoder")
    for _ in range(served.catalogue.settings.transcoder_max_attempts + 1):
        assert Transcoder(served.catalogue, "worker-full").run_once() is True
        processing = served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json
        assert (processing["status"], processing["failure"]) == ("processing", None)
        assert job_row(served, video["id"]) == (0, False, True)  # not counted, tried a lease later
        with psycopg.connect(served.catalogue.settings.database_url) as conn:
            conn.execute("UPDATE transcode_jobs SET lease_expires_at = now() WHERE video_id = %s",
                         (uuid.UUID(video["id"]),))  # fmt: skip
    assert disk_full_count("transcoder") == before + served.catalogue.settings.transcoder_max_attempts + 1

    monkeypatch.undo()  # room again
    assert Transcoder(served.catalogue, "worker-b").run_once() is True
    done = served.client.get(f"/v1/videos/{video['id']}", headers=editor()).json
    assert (done["status"], done["failure"]) == ("ready", None)
