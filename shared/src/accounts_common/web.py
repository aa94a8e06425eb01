"""A service's Flask app, built the same way everywhere: its API documented at /openapi.json, errors as
problem+json (problems.py), the operations endpoints and metrics (operations.py), the input guard."""

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, Response
from flask_smorest.utils import prepare_response
from psycopg_pool import ConnectionPool
from werkzeug.exceptions import HTTPException

from accounts_common.apidocs import document_operations
from accounts_common.caching import install_cache_control
from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, database_reachable, migrations_recorded
from accounts_common.inputguard import document_input_guard, install_input_guard
from accounts_common.operations import ScrapeGauge, install_request_metrics, operations_blueprint
from accounts_common.outbox import oldest_pending_age_gauge
from accounts_common.problems import (
    PROBLEM_JSON,
    ProblemSchema,
    install_problem_handlers,
    problem_response,
    validation_errors,
)
from accounts_common.textfields import Mailbox

log = logging.getLogger(__name__)

# Every answer of an API: its type is never sniffed (a stored file served as an image stays one), and it
# is never a page that runs, loads anything or is framed, should a browser open it. The portal's pages
# set their own policy first (their after_request runs before this one).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


class ProblemApi(flask_smorest.Api):
    """flask-smorest's Api answering, and documenting, every HTTP error as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """flask-smorest's shared error responses (one per status, and the default), as problem+json."""
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = validation_errors(data["messages"]) if "messages" in data else None
        if errors and "_schema" in errors and len(errors) == 1:
            return problem_response(400, slug="malformed-request", detail=" ".join(errors["_schema"]))
        if status == 422:
            return problem_response(
                422,
                slug="validation-error",
                detail=data.get("detail") or "The request has invalid fields; see errors.",
                errors=errors,
            )
        if status >= 500:
            return problem_response(status, detail="The server could not complete the request.")
        headers = dict(data.get("headers") or {})
        if status == 405 and getattr(error, "valid_methods", None):
            # RFC 9110 §15.5.6: a 405 names the methods the resource does support.
            headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
        return problem_response(status, detail=error.description, headers=headers)


def create_api_app(
    name: str,
    *,
    blueprints: list[flask_smorest.Blueprint],
    readiness_checks: Mapping[str, Callable[[], bool]],
    config: Mapping[str, Any] | None = None,
    scrape_gauges: Mapping[str, ScrapeGauge] | None = None,
) -> Flask:
    """A service's Flask app: its API blueprints documented at /openapi.json, errors as problem+json,
    the operations endpoints and request metrics (plus `scrape_gauges`, read on each scrape)."""
    app = Flask(name)
    app.config.update(
        API_TITLE=f"Multimedia Accounts — {name}",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(config or {})
    api = ProblemApi(app)
    # An address takes internationalised mailboxes, as identity's sign-ups do: `email` is ASCII only.
    api.register_field(Mailbox, "string", "idn-email")
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    document_schema_rules(api)
    app.register_blueprint(operations_blueprint(readiness_checks, scrape_gauges))
    document_operations(api, app)
    document_input_guard(api.spec)
    install_problem_handlers(app)
    install_request_metrics(app)
    install_input_guard(app)
    install_cache_control(app)
    install_security_headers(app)
    app.extensions["problem_api"] = api
    return app


def install_security_headers(app: Flask) -> None:
    """SECURITY_HEADERS on every answer that has not set its own."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def create_database_app(
    name: str,
    *,
    blueprints: list[flask_smorest.Blueprint],
    pool: ConnectionPool,
    migrations: MigrationSet,
    max_body_bytes: int | None = None,
    config: Mapping[str, Any] | None = None,
) -> Flask:
    """The app of a service over its own database and outbox (all but the portal): ready while the
    database answers, once it holds the shared and the service's `migrations` this code knows; each
    scrape reads the age of the oldest event its relay has not published."""
    limit = {} if max_body_bytes is None else {"MAX_CONTENT_LENGTH": max_body_bytes}
    return create_api_app(
        name,
        blueprints=blueprints,
        readiness_checks={
            "database": lambda: database_reachable(pool),
            "migrations": migrations_recorded(pool, (COMMON_MIGRATIONS, migrations)),
        },
        config={**limit, **(config or {})},
        scrape_gauges=oldest_pending_age_gauge(pool),
    )


def document_schema_rules(api: flask_smorest.Api) -> None:
    """A schema's `@validates_schema` rule is invisible to apispec: a schema says it in JSON Schema as
    its `JSON_SCHEMA_RULES` (`dependentRequired`, `anyOf`…), added here to its component, so the
    document does not call valid what the API refuses."""
    for key, name in api.ma_plugin.converter.refs.items():
        rules = getattr(key[0], "JSON_SCHEMA_RULES", None)
        if rules:
            api.spec.components.schemas[name].update(rules)


def document_field(app: Flask, schema: str, field: str, **keywords: Any) -> None:
    """Add JSON Schema keywords known only once the app is configured (a policy's pattern) to a field
    of a request schema in the app's OpenAPI document."""
    api: flask_smorest.Api = app.extensions["problem_api"]
    api.spec.components.schemas[schema]["properties"][field].update(keywords)
