"""The catalogue's Flask application factory: gunicorn runs `catalogue.entrypoints.app:create_app()`."""

import logging
from typing import Any

from flask import Flask, Response

from accounts_common.auth import TokenVerifier, install_token_verifier
from accounts_common.db import request_pool
from accounts_common.problems import install_refusals, problem_response
from accounts_common.process import configure_logging
from accounts_common.web import create_database_app
from catalogue.adapters.disk import DISK_FULL, DiskFull
from catalogue.adapters.storage import StorageUnavailable
from catalogue.bootstrap import Catalogue, bootstrap
from catalogue.entrypoints import api, uploads
from catalogue.migrations import CATALOGUE_MIGRATIONS
from catalogue.service_layer import errors
from catalogue.settings import Settings

log = logging.getLogger(__name__)

# What each refusal answers; the detail is the refusal's own words.
REFUSALS: dict[type[Exception], tuple[int, str, str | None]] = {
    errors.NotFound: (404, "not-found", None),
    errors.NotEntitled: (403, "account-not-entitled", None),
    errors.LinkInvalid: (403, "link-invalid", None),
    errors.LinkExpired: (410, "link-expired", None),
    errors.FileUnavailable: (503, "file-unavailable", None),
    errors.InvalidIngest: (422, "validation-error", None),
    errors.Conflict: (409, "conflict", None),
    errors.MasterGone: (409, "master-gone", None),
    errors.TextsChanged: (409, "texts-changed", None),
    errors.TooLarge: (413, "upload-too-large", None),
    errors.Locked: (423, "upload-locked", None),
}


def create_app(catalogue: Catalogue | None = None, config: dict[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own `Catalogue`, gunicorn workers build one after forking."""
    configure_logging()
    if catalogue is None:
        settings = Settings.load()
        catalogue = bootstrap(settings, pool=request_pool(settings, name="catalogue-web", max_size=8))
    app = create_database_app(
        "catalogue",
        blueprints=[api.videos, api.downloads, uploads.uploads],
        pool=catalogue.pool,
        migrations=CATALOGUE_MIGRATIONS,
        max_body_bytes=catalogue.settings.max_body_bytes,
        config=config,
    )
    app.extensions["catalogue"] = catalogue
    install_token_verifier(app, TokenVerifier(catalogue.settings.identity_jwks_url, pool=catalogue.pool))
    install_refusals(app, REFUSALS)
    app.register_error_handler(StorageUnavailable, _storage_unavailable)
    app.register_error_handler(DiskFull, _disk_full)
    return app


def _storage_unavailable(error: StorageUnavailable) -> Response:
    log.error("file storage unavailable: %s", error)
    return problem_response(503, slug="storage-unavailable", detail="The files cannot be reached right now.")


def _disk_full(error: DiskFull) -> Response:
    log.error("disk full: %s", error)
    DISK_FULL.labels(error.where).inc()
    return problem_response(
        507,
        slug="insufficient-storage",
        detail="The catalogue's disk is full. Nothing half-written was kept: an upload keeps every byte "
        "received before (HEAD gives its offset) and resumes there once room is made; try again later.",
    )
