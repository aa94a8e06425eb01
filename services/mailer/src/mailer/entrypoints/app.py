"""The mailer's Flask application factory: gunicorn runs `mailer.entrypoints.app:create_app()`."""

from typing import Any

from flask import Flask
from psycopg_pool import ConnectionPool

from accounts_common.auth import TokenVerifier, install_token_verifier
from accounts_common.db import request_pool
from accounts_common.process import configure_logging
from accounts_common.web import create_database_app
from mailer import bootstrap
from mailer.entrypoints import api
from mailer.migrations import MAILER_MIGRATIONS
from mailer.settings import Settings


def create_app(
    settings: Settings | None = None, pool: ConnectionPool | None = None, config: dict[str, Any] | None = None
) -> Flask:
    """Build the app; tests pass their own settings and pool, gunicorn workers build them after forking."""
    configure_logging()
    settings = settings or Settings.load()
    pool = pool or request_pool(settings, name="mailer-web", max_size=4)
    app = create_database_app(
        "mailer", blueprints=[api.blp], pool=pool, migrations=MAILER_MIGRATIONS, config=config
    )
    app.extensions["support"] = bootstrap.support(settings, pool)
    install_token_verifier(app, TokenVerifier(settings.identity_jwks_url, pool=pool))
    return app
