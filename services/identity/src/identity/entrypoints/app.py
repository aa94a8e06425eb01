"""Identity's Flask application; gunicorn runs `identity.entrypoints.app:create_app()`."""

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response
from flask_smorest.utils import prepare_response
from werkzeug.middleware.proxy_fix import ProxyFix

from accounts_common.db import database_reachable
from accounts_common.web import (
    PROBLEM_JSON,
    ProblemApi,
    install_problem_handlers,
    install_request_metrics,
    operations_blueprint,
    problem_response,
)
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints import api, jwks, resets_api, schemas, sessions_api
from identity.service_layer.errors import (
    CodeRejected,
    InvalidCredentials,
    InvalidResetToken,
    NotVerified,
    RateLimited,
    Unauthenticated,
    WrongPassword,
)

CODE_PROBLEMS = {
    "invalid-code": "The code is not right. Check the email and try again.",
    "code-expired": "The code has expired. Ask for a new code.",
    "code-locked": "Too many wrong attempts for this code. Ask for a new code.",
}


class IdentityApi(ProblemApi):
    """The API whose documented errors are problem+json, as its answers are."""

    ERROR_SCHEMA = schemas.Problem

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
    if identity.settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=identity.settings.trusted_proxy_hops)  # type: ignore[method-assign]
    rest = IdentityApi(app)
    rest.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in (api.blp, sessions_api.blp, resets_api.blp, jwks.blp):
        rest.register_blueprint(blueprint)
    app.register_blueprint(operations_blueprint({"database": lambda: database_reachable(identity.pool)}))
    document_operations(rest, app)
    install_problem_handlers(app)
    install_refusal_handlers(app)
    install_request_metrics(app)
    return app


def install_refusal_handlers(app: Flask) -> None:
    """Turn what the use cases refuse into problem responses."""
    app.register_error_handler(RateLimited, _rate_limited)
    app.register_error_handler(CodeRejected, _code_rejected)
    app.register_error_handler(InvalidCredentials, _invalid_credentials)
    app.register_error_handler(NotVerified, _not_verified)
    app.register_error_handler(Unauthenticated, _unauthenticated)
    app.register_error_handler(InvalidResetToken, _invalid_reset_token)
    app.register_error_handler(WrongPassword, _wrong_password)


def _rate_limited(error: RateLimited) -> Response:
    return problem_response(
        429,
        slug="rate-limited",
        detail="Too many requests. Try again later.",
        headers={"Retry-After": str(error.retry_after_s)},
    )


def _code_rejected(error: CodeRejected) -> Response:
    slug = error.outcome.value
    return problem_response(400, slug=slug, detail=CODE_PROBLEMS[slug])


def _invalid_credentials(_error: InvalidCredentials) -> Response:
    return problem_response(401, slug="invalid-credentials", detail="The email or password is not right.")


def _not_verified(_error: NotVerified) -> Response:
    return problem_response(
        403, slug="account-not-verified", detail="Verify your email with the code we sent before logging in."
    )


def _unauthenticated(_error: Unauthenticated) -> Response:
    return problem_response(
        401,
        slug="invalid-token",
        detail="A valid access token is required.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _wrong_password(_error: WrongPassword) -> Response:
    return problem_response(403, slug="wrong-password", detail="The password is not right.")


def _invalid_reset_token(_error: InvalidResetToken) -> Response:
    return problem_response(
        400, slug="invalid-reset-token", detail="The reset link is no longer valid. Start again."
    )


def document_operations(rest: IdentityApi, app: Flask) -> None:
    """Put /healthz, /readyz and /metrics (plain Flask routes of the common library) in the OpenAPI."""
    spec = rest.spec
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}

    def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = {"description": description, "schema": schema}
        prepare_response(response, spec, "application/json")
        return response

    status = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
    readiness = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
        "required": ["status", "checks"],
    }
    spec.path(
        rule=rules["/healthz"],
        operations={
            "get": {
                "tags": ["operations"],
                "summary": "The process is alive",
                "responses": {"200": json_response("Alive", status)},
            }
        },
    )
    spec.path(
        rule=rules["/readyz"],
        operations={
            "get": {
                "tags": ["operations"],
                "summary": "The database answers",
                "responses": {
                    "200": json_response("Ready", readiness),
                    "503": json_response("Not ready", readiness),
                },
            }
        },
    )
    spec.path(
        rule=rules["/metrics"],
        operations={
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
