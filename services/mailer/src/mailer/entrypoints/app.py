"""The mailer's Flask application factory: gunicorn runs `mailer.entrypoints.app:create_app()`."""

import logging
from typing import Any

from flask import Flask
from psycopg_pool import ConnectionPool

from accounts_common.db import create_pool, database_reachable
from accounts_common.web import (
    ProblemApi,
    install_problem_handlers,
    install_request_metrics,
    operations_blueprint,
)
from mailer.adapters.deliveries import DeliveryLog
from mailer.entrypoints import api
from mailer.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, pool: ConnectionPool | None = None, config: dict[str, Any] | None = None
) -> Flask:
    """Build the app; tests pass their own settings and pool, gunicorn workers build them after forking."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or Settings.from_env()
    pool = pool or create_pool(settings.database_url, name="mailer-web", max_size=4)
    if not settings.operator_token:
        log.warning("MAILER_OPERATOR_TOKEN is not set: the operators' endpoints refuse every request")
    app = Flask("mailer")
    app.config.update(
        API_TITLE="Multimedia Accounts — mailer",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPERATOR_TOKEN=settings.operator_token,
    )
    app.config.update(config or {})
    app.extensions["delivery_log"] = DeliveryLog(pool)
    rest = ProblemApi(app)
    rest.register_blueprint(api.blp)
    app.register_blueprint(operations_blueprint({"database": lambda: database_reachable(pool)}))
    install_problem_handlers(app)
    install_request_metrics(app)
    return app
