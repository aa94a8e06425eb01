"""A full disk where the catalogue writes (the upload area, the local storage, the transcoder's working
files): DiskFull, never a half-written chunk counted in an upload's offset nor a half copy left in
storage, and a transcoding job given back for later without burning an attempt. The real ENOSPC comes
from /dev/full, the device every write to fails with it."""

import errno
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from catalogue.adapters import transcoding
from catalogue.adapters.disk import DiskFull, is_full
from catalogue.adapters.storage import LocalStorage
from catalogue.adapters.upload_area import UploadArea, append
from catalogue.adapters.upload_store import Upload
from tests.support.catalogue import small_video
from tests.unit.test_catalogue_transcoder import MAX_ATTEMPTS, Jobs, job, make_transcoder

FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def new_upload(area: UploadArea, length: int) -> Upload:
    upload = Upload(uuid.uuid4(), uuid.uuid4(), length, "")
    area.create(upload.id)
    return upload


def chunks(*parts: bytes):  # type: ignore[no-untyped-def]
    """A request body's `read`, handing out `parts` one by one."""
    waiting = list(parts)
    return lambda size: waiting.pop(0) if waiting else b""


@needs_dev_full
def test_a_write_to_a_full_disk_is_disk_full_and_the_offset_stays_true(tmp_path):
    area = UploadArea(tmp_path / "uploads")
    upload = new_upload(area, 10)
    area.path(upload.id).unlink()
    area.path(upload.id).symlink_to(FULL)  # every write to it fails with a real ENOSPC
    with pytest.raises(DiskFull) as raised, area.writer(upload) as file:
        append(file, chunks(b"0123456789"), 10)
    assert isinstance(raised.value.__cause__, OSError) and raised.value.__cause__.errno == errno.ENOSPC
    assert raised.value.where == "upload" and is_full(raised.value)
    assert area.offset(upload) == 0


def test_the_chunk_the_disk_filled_up_on_is_cut_off_and_the_ones_before_kept(tmp_path, monkeypatch):
    area = UploadArea(tmp_path / "uploads")
    upload = new_upload(area, 12)
    real_write, calls = os.write, []

    def filling_up(descriptor: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 2:
            return real_write(descriptor, bytes(data[:2]))  # the disk takes part of the second chunk…
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")  # …and then nothing more
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", filling_up)
    with pytest.raises(DiskFull), area.writer(upload) as file:
        append(file, chunks(b"first", b"second", b"x"), 12)
    monkeypatch.undo()
    assert area.path(upload.id).read_bytes() == b"first"  # whole chunks only: the client resends from 5
    with area.writer(upload) as file:
        assert append(file, chunks(b"second", b"x"), 7) == 7
    assert area.path(upload.id).read_bytes() == b"firstsecondx"


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_a_copy_into_local_storage_on_a_full_disk_leaves_no_half_file(tmp_path, monkeypatch, number):
    storage = LocalStorage(tmp_path / "media")

    def full_copy(source, target, length):  # type: ignore[no-untyped-def]
        target.write(b"half")
        raise OSError(number, os.strerror(number))

    def elsewhere(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")  # the master is copied, not linked

    monkeypatch.setattr(os, "link", elsewhere)
    monkeypatch.setattr(shutil, "copyfileobj", full_copy)
    with pytest.raises(DiskFull) as raised:
        storage.put_file("videos/v/master", Path(__file__))
    assert raised.value.where == "storage"
    assert [path.name for path in (tmp_path / "media").rglob("*")] == ["videos", "v"]  # no .part left


def test_other_errors_are_not_a_full_disk(tmp_path):
    storage = LocalStorage(tmp_path / "media")
    with pytest.raises(FileNotFoundError):
        storage.put_file("videos/v/master", tmp_path / "none")
    assert not is_full(OSError(errno.EIO, "I/O error")) and not is_full(OSError("disk full"))


@needs_dev_full
@needs_ffmpeg
def test_ffmpeg_writing_to_a_full_disk_is_disk_full_not_a_bad_video(tmp_path):
    master = small_video(tmp_path / "master.mp4", size="320x240", seconds=0.5)
    source = transcoding.probe(master)
    [output] = transcoding.renditions_for(source, tmp_path)
    output.path.symlink_to(FULL)
    with pytest.raises(DiskFull):
        transcoding.encode(master, source, [output], tmp_path / "preview.mp4", lambda fraction: True)
    (tmp_path / "still.jpg").symlink_to(FULL)
    with pytest.raises(DiskFull):
        transcoding.still(master, 0.1, 320, tmp_path / "still.jpg")


def disk_full_count(where: str) -> float:
    return REGISTRY.get_sample_value("catalogue_disk_full_total", {"where": where}) or 0.0


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        DiskFull("transcoder", "ffmpeg: No space left on device"),
    ],
)
@pytest.mark.parametrize("attempts", [1, MAX_ATTEMPTS])
def test_a_full_disk_gives_the_job_back_for_later_without_counting_the_attempt(monkeypatch, error, attempts):
    jobs = Jobs(monkeypatch, job(attempts=attempts))
    before = disk_full_count("transcoder")
    assert make_transcoder(error).run_once(threading.Event()) is True
    # A lease later (not at once: the disk may stay full a while), and not counted: on its last attempt
    # too, a video is never failed for a full disk.
    assert jobs.events == [("given back", 60)]
    assert disk_full_count("transcoder") == before + 1
