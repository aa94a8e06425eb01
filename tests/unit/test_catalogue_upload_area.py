"""The upload area's own sweep: files nobody wrote to for longer than the expiry go, the others stay.
A finished upload becomes a master without a copy when storage is on the same file system."""

import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from catalogue.adapters.storage import LocalStorage
from catalogue.adapters.upload_area import UploadArea
from catalogue.adapters.upload_store import Upload

DAY_S = 24 * 3600


def test_files_untouched_for_longer_than_the_expiry_are_removed(tmp_path):
    area = UploadArea(tmp_path / "uploads")
    old, recent = uuid.uuid4(), uuid.uuid4()
    for upload_id in (old, recent):
        area.create(upload_id)
    now = time.time()
    os.utime(area.path(old), (now - DAY_S - 5, now - DAY_S - 5))
    os.utime(area.path(recent), (now - DAY_S + 60, now - DAY_S + 60))
    assert area.remove_untouched(DAY_S, now=now) == 1
    assert not area.path(old).exists() and area.path(recent).exists()


def test_an_area_not_made_yet_has_nothing_to_remove(tmp_path):
    assert UploadArea(tmp_path / "never").remove_untouched(DAY_S) == 0


def finished_upload(area: UploadArea, data: bytes) -> Upload:
    upload = Upload(uuid.uuid4(), uuid.uuid4(), len(data), "")
    area.create(upload.id)
    area.path(upload.id).write_bytes(data)
    return upload


def test_a_master_on_the_same_file_system_is_linked_not_copied(tmp_path):
    area, storage = UploadArea(tmp_path / "uploads"), LocalStorage(tmp_path / "media")
    upload = finished_upload(area, b"master bytes")
    key = area.store_master(upload, storage, "videos/v/master")
    assert storage.path(key).stat().st_ino == area.path(upload.id).stat().st_ino  # one file, two names
    area.delete_source(upload.id)
    assert storage.path(key).read_bytes() == b"master bytes"
    area.undo_master(storage, key)
    assert not storage.path(key).exists()


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev,
    reason="needs a second file system (/dev/shm)",
)
def test_a_master_on_another_file_system_is_copied(tmp_path):
    with tempfile.TemporaryDirectory(dir="/dev/shm") as elsewhere:
        area, storage = UploadArea(Path(elsewhere)), LocalStorage(tmp_path / "media")
        upload = finished_upload(area, b"master bytes")
        key = area.store_master(upload, storage, "videos/v/master")
        assert storage.path(key).stat().st_dev != area.path(upload.id).stat().st_dev
        assert storage.path(key).read_bytes() == b"master bytes"
        assert [path.name for path in storage.path(key).parent.iterdir()] == ["master"]


@pytest.mark.parametrize("hold", ["writer", "locked"])
def test_an_upload_gone_before_its_lock_is_taken_is_not_made_again(tmp_path, hold):
    area = UploadArea(tmp_path / "uploads")
    upload = Upload(uuid.uuid4(), uuid.uuid4(), 4, "")
    area.create(upload.id)
    area.delete(upload)  # terminated or expired after the request found it
    with pytest.raises(FileNotFoundError), getattr(area, hold)(upload):
        pass
    assert not area.path(upload.id).exists()
