"""Abandoned tus uploads expire (tus expiration extension): every answer about an upload says when
(Upload-Expires), an upload past it is gone for its client at once, and the transcoder's loop removes
its row and its bytes; an upload a video was made of stays. Real PostgreSQL, real files, tuspy."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import psycopg
import pytest

from catalogue.adapters.storage import StorageUnavailable
from catalogue.adapters.upload_area import UploadArea
from catalogue.entrypoints.app import create_app
from catalogue.service_layer import uploads
from catalogue.service_layer.transcoder import Transcoder
from tests.integration.catalogue.conftest import editor
from tests.integration.catalogue.test_catalogue_publishing import TUS, ServedCatalogue, submit, tus_upload
from tests.support.polling import wait_for

EXPIRY_S = 3600


@pytest.fixture
def served(make_catalogue):  # type: ignore[no-untyped-def]
    running = ServedCatalogue(lambda **overrides: make_catalogue(upload_expiry_s=EXPIRY_S, **overrides))
    yield running
    running.served.close()


def new_upload(served: ServedCatalogue, length: int = 8) -> tuple[str, datetime]:
    """A fresh upload's path and the Upload-Expires its creation answered."""
    created = served.client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": str(length)})
    assert created.status_code == 201, created.json
    return created.headers["Location"].removeprefix(served.url), parsedate_to_datetime(
        created.headers["Upload-Expires"]
    )


def age(served: ServedCatalogue, path: str, seconds: float) -> None:
    """Make the upload `seconds` old, as the database's clock sees it."""
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        conn.execute(
            "UPDATE uploads SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
            (seconds, uuid.UUID(path.rsplit("/", 1)[-1])),
        )


def upload_file(served: ServedCatalogue, path: str) -> Path:
    return Path(served.catalogue.settings.upload_root) / uuid.UUID(path.rsplit("/", 1)[-1]).hex


def test_every_answer_about_an_upload_says_when_it_expires(served):
    options = served.client.options("/v1/uploads/")
    assert "expiration" in options.headers["Tus-Extension"].split(",")
    before = datetime.now(UTC)
    path, expires = new_upload(served)
    # HTTP dates have whole seconds: the creation's answer is EXPIRY_S after the request, give or take.
    assert (
        before + timedelta(seconds=EXPIRY_S - 1) <= expires <= datetime.now(UTC) + timedelta(seconds=EXPIRY_S)
    )
    head = served.client.head(path, headers=editor() | TUS)
    assert parsedate_to_datetime(head.headers["Upload-Expires"]) == expires
    octets = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    patched = served.client.patch(path, data=b"1234", headers=editor() | TUS | octets)
    assert patched.status_code == 204 and parsedate_to_datetime(patched.headers["Upload-Expires"]) == expires


def test_an_upload_past_its_expiry_is_gone_for_its_client_before_the_sweep(served):
    path, _ = new_upload(served)
    age(served, path, EXPIRY_S + 1)
    assert served.client.head(path, headers=editor() | TUS).status_code == 404
    octets = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    assert served.client.patch(path, data=b"12", headers=editor() | TUS | octets).status_code == 404
    assert upload_file(served, path).exists()  # the bytes wait for the sweep


def test_the_transcoders_loop_removes_abandoned_uploads_and_keeps_the_rest(served, tmp_path):
    abandoned, _ = new_upload(served)
    fresh, _ = new_upload(served)
    used = tus_upload(served, write_bytes(tmp_path / "master.bin")).removeprefix(served.url)
    submit(served, served.url + used)
    for path in (abandoned, used):
        age(served, path, EXPIRY_S + 60)
    assert upload_file(served, abandoned).exists()

    stop = threading.Event()
    transcoder = Transcoder(served.catalogue)
    loop = threading.Thread(target=transcoder.run, args=(stop,), kwargs={"sweep_interval_s": 0.05})
    loop.start()
    try:
        wait_for(lambda: not upload_file(served, abandoned).exists() or None, timeout=30, what="the sweep")
    finally:
        stop.set()
        loop.join(timeout=30)
    with psycopg.connect(served.catalogue.settings.database_url) as conn:
        rows = {
            str(row[0])
            for row in conn.execute(
                "SELECT id FROM uploads WHERE id = ANY(%s)",
                ([uuid.UUID(p.rsplit("/", 1)[-1]) for p in (abandoned, fresh, used)],),
            )
        }
    assert rows == {fresh.rsplit("/", 1)[-1], used.rsplit("/", 1)[-1]}  # a video was made of `used`
    assert served.client.head(fresh, headers=editor() | TUS).status_code == 200
    assert uploads.expire_abandoned(served.catalogue) == 0


def write_bytes(path: Path) -> Path:
    path.write_bytes(b"not a video, but the sweep does not care" * 100)
    return path


class SweepFails(UploadArea):
    """An upload area whose sweep fails: a listing of the bucket's (S3Proxy answers one with a 500
    while an object under it is being written), or a file gone between its listing and its stat
    (another process sweeping the shared folder)."""

    def __init__(self, root: str, error: Exception) -> None:
        super().__init__(root)
        self.error = error

    def remove_untouched(self, max_age_s: float, now: float | None = None) -> int:
        raise self.error


class Due:
    """The web process's own sweep, due now."""

    def due(self) -> bool:
        return True


@pytest.mark.parametrize(
    "error", [StorageUnavailable("ListMultipartUploads: 500"), FileNotFoundError("swept meanwhile")]
)
def test_an_upload_is_created_even_when_the_sweep_its_request_runs_fails(make_catalogue, monkeypatch, error):
    catalogue = make_catalogue(upload_expiry_s=EXPIRY_S)
    catalogue.uploads = SweepFails(catalogue.settings.upload_root, error)
    monkeypatch.setattr(uploads, "OWN_FOLDER_SWEEP", Due())
    client = create_app(catalogue).test_client()
    created = client.post("/v1/uploads/", headers=editor() | TUS | {"Upload-Length": "8"})
    assert created.status_code == 201, created.json
    path = created.headers["Location"].removeprefix(catalogue.settings.public_url)
    assert client.head(path, headers=editor() | TUS).headers["Upload-Offset"] == "0"
