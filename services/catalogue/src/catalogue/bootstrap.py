"""Composition root: builds the catalogue's collaborators once per process (after gunicorn forks)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from accounts_common.db import create_pool
from catalogue.adapters.storage import Storage, open_storage
from catalogue.adapters.upload_area import UploadArea
from catalogue.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Catalogue:
    """What the use cases need: settings, the database pool, the file storage and a clock."""

    settings: Settings
    pool: ConnectionPool
    storage: Storage
    uploads: UploadArea
    clock: Callable[[], datetime] = field(default=utc_now)


def bootstrap(settings: Settings | None = None, pool: ConnectionPool | None = None) -> Catalogue:
    """Wire the catalogue from its settings (the environment's unless given)."""
    settings = settings or Settings.from_env()
    return Catalogue(
        settings=settings,
        pool=pool or create_pool(settings.database_url, name="catalogue-web", max_size=8),
        storage=open_storage(settings.storage, settings.storage_root),
        uploads=UploadArea(settings.upload_root),
    )
