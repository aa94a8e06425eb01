"""Composition root: builds the catalogue's collaborators once per process (after gunicorn forks)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from psycopg_pool import ConnectionPool

from accounts_common.clock import utc_now
from accounts_common.db import create_pool
from catalogue.adapters.storage import S3Storage, Storage, open_storage
from catalogue.adapters.upload_area import UploadArea, UploadBytes
from catalogue.adapters.upload_locks import pg_lock
from catalogue.adapters.upload_parts import S3UploadArea
from catalogue.settings import Settings


@dataclass
class Catalogue:
    """What the use cases need: settings, the database pool, the file storage and a clock."""

    settings: Settings
    pool: ConnectionPool
    storage: Storage
    uploads: UploadBytes
    clock: Callable[[], datetime] = field(default=utc_now)


def bootstrap(settings: Settings | None = None, pool: ConnectionPool | None = None) -> Catalogue:
    """Wire the catalogue from its settings (the environment's unless given)."""
    settings = settings or Settings.load()
    storage = open_storage(settings.storage, settings.storage_root)
    return Catalogue(
        settings=settings,
        pool=pool or create_pool(settings.database_url, name="catalogue-web", max_size=8),
        storage=storage,
        uploads=upload_area(settings, storage),
    )


def upload_area(settings: Settings, storage: Storage) -> UploadBytes:
    """Uploads collect where the files are: in the bucket (any web process takes any request of an
    upload), else in the local folder CATALOGUE_UPLOAD_ROOT."""
    if isinstance(storage, S3Storage):
        return S3UploadArea(storage, pg_lock(settings.database_url), settings.upload_part_bytes)
    return UploadArea(settings.upload_root)
