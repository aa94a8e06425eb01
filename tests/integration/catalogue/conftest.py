"""The catalogue in-process against the real PostgreSQL, checking the tokens of an identity served over
real HTTP (its JWKS), with media files in a temporary storage root."""

import dataclasses
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.roles import Role
from catalogue.adapters.storage import LocalStorage
from catalogue.adapters.upload_area import UploadArea
from catalogue.bootstrap import Catalogue
from catalogue.entrypoints.app import create_app
from catalogue.migrations import CATALOGUE_MIGRATIONS
from catalogue.settings import Settings
from identity.bootstrap import Identity
from tests.conftest import database_fixtures
from tests.integration.conftest import staff_token

LINK_KEY = b"test-download-link-key-of-at-least-32-bytes"


catalogue_db, catalogue_pool = database_fixtures("catalogue", CATALOGUE_MIGRATIONS)


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("catalogue-media")


@pytest.fixture
def make_catalogue(catalogue_db, catalogue_pool, media_root, infra, served_identity):  # type: ignore[no-untyped-def]
    """A Catalogue on the test database and storage, with any settings (and the clock) overridden."""

    def make(clock: Callable[[], datetime] | None = None, **overrides: Any) -> Catalogue:
        settings = Settings(
            database_url=catalogue_db,
            kafka_bootstrap_servers=infra.kafka,
            download_link_key=LINK_KEY,
            identity_jwks_url=served_identity.jwks_url,
            storage_root=str(media_root),
            upload_root=str(media_root / "uploads"),
            public_url="http://localhost",
        )
        settings = dataclasses.replace(settings, **overrides)
        storage, uploads = LocalStorage(settings.storage_root), UploadArea(settings.upload_root)
        catalogue = Catalogue(settings, catalogue_pool, storage, uploads)
        if clock is not None:
            catalogue.clock = clock
        return catalogue

    return make


@pytest.fixture
def catalogue_client(make_catalogue):  # type: ignore[no-untyped-def]
    return create_app(make_catalogue()).test_client()


class EditorToken:
    """A catalogue editor's token, made through identity's staff flow and kept for ten minutes (tokens
    live fifteen): the tests that add videos share one editor instead of making one each."""

    def __init__(self) -> None:
        self.token, self.made_at = "", -math.inf

    def refresh(self, identity: Identity, pool: ConnectionPool) -> None:
        if time.monotonic() - self.made_at > 600:
            self.token, self.made_at = staff_token(identity, pool, Role.CATALOGUE_EDITOR), time.monotonic()


EDITOR = EditorToken()


@pytest.fixture(autouse=True)
def catalogue_editor(served_identity, identity_pool) -> None:  # type: ignore[no-untyped-def]
    EDITOR.refresh(served_identity.app.extensions["identity"], identity_pool)


def editor() -> dict[str, str]:
    """The Authorization header of the catalogue editor (see `catalogue_editor`)."""
    return {"Authorization": f"Bearer {EDITOR.token}"}


def unique_word() -> str:
    """A made-up word no other test uses (letters only, so the text parser keeps it whole)."""
    return "zq" + "".join(chr(ord("a") + int(digit, 16)) for digit in uuid.uuid4().hex[:10])


def add_video(client, media_root: Path, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Put a file in local storage and import a (published) video with it (see `import_video`)."""
    content = fields.pop("content", b"video bytes " * 100)
    key = f"test/{uuid.uuid4().hex}.mp4"
    LocalStorage(media_root).write(key, content)
    return import_video(client, key, **fields)


def import_video(  # type: ignore[no-untyped-def]
    client, key: str, rendition: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """Import a (published) video through the editors' endpoint: one rendition, the stored file `key`
    (with `rendition`'s fields changed), and `fields` over the defaults."""
    for name in ("title", "description"):
        if isinstance(fields.get(name), str):  # the same words in both languages
            fields[name] = {"en": fields[name], "fr": fields[name]}
    body = {
        "title": {"en": "Untitled", "fr": "Sans titre"},
        "published_at": "2021-02-11T14:00:00+00:00",
        "duration": 4.0,
        "renditions": [
            {"label": "1080p MP4", "container": "mp4", "codec": "h264", "width": 1920, "height": 1080,
             "bitrate": 8_000_000, "path": key, **(rendition or {})}
        ],
        **fields,
    }  # fmt: skip
    response = client.post("/v1/videos/imports", json=body, headers=editor())
    assert response.status_code == 201, response.json
    return response.json
