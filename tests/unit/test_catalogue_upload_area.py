"""The upload area's own sweep: files nobody wrote to for longer than the expiry go, the others stay."""

import os
import time
import uuid

from catalogue.adapters.upload_area import UploadArea

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
