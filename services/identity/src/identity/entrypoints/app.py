"""Identity's Flask application factory: gunicorn runs `identity.entrypoints.app:create_app()`."""

import logging
from typing import Any

from flask import Flask

from accounts_common.db import database_reachable
from accounts_common.web import (
    ProblemApi,
    install_problem_handlers,
    install_request_metrics,
    operations_blueprint,
)
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints import api, jwks


def create_app(identity: Identity | None = None, config: dict[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own `Identity`, gunicorn workers build one after forking."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    identity = identity or bootstrap()
    app = Flask("identity")
    app.config.update(
        API_TITLE="Multimedia Accounts — identity",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=identity.settings.max_body_bytes,
    )
    app.config.update(config or {})
    app.extensions["identity"] = identity
    rest = ProblemApi(app)
    rest.register_blueprint(api.blp)
    app.register_blueprint(jwks.bp)
    app.register_blueprint(operations_blueprint({"database": lambda: database_reachable(identity.pool)}))
    install_problem_handlers(app)
    install_request_metrics(app)
    return app
