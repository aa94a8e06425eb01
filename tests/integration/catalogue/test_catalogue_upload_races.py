"""Races on one tus upload in the folder storage: a request that found the upload, then lost it to a
termination (or expiry) before it took the writers' lock. Real PostgreSQL, real files."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accounts_common.auth import Principal
from catalogue.adapters import upload_store
from catalogue.adapters.upload_area import UploadArea
from catalogue.adapters.upload_store import Upload
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Localized, Submission
from catalogue.service_layer import publishing, uploads
from catalogue.service_layer.errors import Conflict, NotFound

EDITOR = Principal(uuid.uuid4(), "editor@example.org", True, datetime.now(UTC), "jti")


class TerminatedOnTheWay(UploadArea):
    """An upload area where the upload is terminated between its request's look-up and its lock."""

    def __init__(self, root: Path, catalogue: Catalogue) -> None:
        super().__init__(root)
        self.catalogue = catalogue

    @contextmanager
    def writer(self, upload: Upload) -> Iterator:  # type: ignore[type-arg]
        with self.catalogue.pool.connection() as conn:
            upload_store.delete_upload(conn, upload.id)
        self.delete(upload)
        with super().writer(upload) as file:
            yield file


@pytest.fixture
def catalogue(make_catalogue) -> Catalogue:  # type: ignore[no-untyped-def]
    made = make_catalogue()
    made.uploads = TerminatedOnTheWay(Path(made.settings.upload_root), made)
    return made


def test_a_patch_to_an_upload_terminated_meanwhile_is_404_and_leaves_no_file(catalogue):
    upload = uploads.create(catalogue, EDITOR, 4, "")
    body = [b"abcd", b""]
    with pytest.raises(NotFound):
        uploads.write(catalogue, EDITOR, upload.id, 0, lambda _size: body.pop(0), 4)
    assert not catalogue.uploads.path(upload.id).exists()


def test_a_termination_racing_another_is_404_and_leaves_no_file(catalogue):
    upload = uploads.create(catalogue, EDITOR, 4, "")
    with pytest.raises(NotFound):
        uploads.terminate(catalogue, EDITOR, upload.id)
    assert not catalogue.uploads.path(upload.id).exists()


def test_a_submission_of_an_upload_terminated_meanwhile_is_409_and_leaves_no_file(catalogue, monkeypatch):
    """Terminated once its submission found it, before the submission locks its row (then its writers):
    a termination takes the writers' lock first, and its row would wait for the submission's."""
    catalogue.uploads = UploadArea(catalogue.uploads.root)
    upload = uploads.create(catalogue, EDITOR, 0, "")  # empty: finished at once
    submission = Submission(upload.id, Localized("Title"), Localized(), None, [], "", [])
    found = publishing._own_upload

    def terminated_once_found(*args):  # type: ignore[no-untyped-def]
        own = found(*args)
        uploads.terminate(catalogue, EDITOR, own.id)
        return own

    monkeypatch.setattr(publishing, "_own_upload", terminated_once_found)
    with pytest.raises(Conflict):
        publishing.submit(catalogue, EDITOR, submission)
    assert not catalogue.uploads.path(upload.id).exists()
