"""HTTP plumbing every service shares: problem+json errors, health, readiness and metrics."""

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import flask_smorest
import psycopg
from flask import Blueprint, Flask, Request, Response, g, jsonify, request
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException

from accounts_common.apidocs import document_operations
from accounts_common.caching import install_cache_control
from accounts_common.inputguard import document_input_guard, install_input_guard

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}
}

REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)


DATABASE_RETRY_AFTER_S = 5


class Problem(Exception):
    """An RFC 9457 problem a view raises to answer the client with a 4xx."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}


def problem_response(
    status: int,
    *,
    slug: str | None = None,
    detail: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response; `type` is about:blank unless the problem has a slug of its own."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def validation_errors(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs' {location: {field: [..]}} flattened to {field: [..]}; nested fields as `a.0.b`."""
    merged: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, Mapping):
            merged.update(_flattened(location_errors))
    return merged


def _flattened(errors: Mapping[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for field, value in errors.items():
        name = f"{prefix}{field}"
        if isinstance(value, Mapping):
            flat.update(_flattened(value, f"{name}."))
        else:
            flat[name] = [str(message) for message in value] if isinstance(value, list) else [str(value)]
    return flat


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


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


class JsonRequest(Request):
    """A request whose unparseable JSON body is reported in plain words."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise BadRequest(f"The request body is not valid JSON: {e}")


def install_problem_handlers(app: Flask) -> None:
    """Views raise Problem for expected failures; anything unexpected is a logged 500 problem."""
    app.request_class = JsonRequest

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(
            problem.status,
            slug=problem.slug,
            detail=problem.detail,
            errors=problem.errors,
            headers=problem.headers,
        )

    # The database down or every connection busy: the request may succeed later, so say when.
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception) -> Response:
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        return problem_response(
            503,
            slug="service-unavailable",
            detail="The service is briefly unavailable; try again shortly.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )

    # HTTPExceptions keep flask-smorest's more specific handler; this one sees only the rest.
    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, detail="The server could not complete the request.")


def document_problems(blp: flask_smorest.Blueprint, responses: dict[int, str]) -> Callable[[Any], Any]:
    """Document the problem+json answers a view gives besides its success (429s with Retry-After)."""

    def decorate(view: Any) -> Any:
        for status, description in responses.items():
            headers = RETRY_AFTER if status == 429 else None
            view = blp.alt_response(
                status,
                schema=ProblemSchema,
                content_type=PROBLEM_JSON,
                description=description,
                headers=headers,
            )(view)
        return view

    return decorate


@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge read when Prometheus scrapes (from the database, say), omitted while `read` fails."""

    description: str
    read: Callable[[], float]


class _ScrapeGauges:
    def __init__(self, gauges: Mapping[str, ScrapeGauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, gauge in self.gauges.items():
            try:
                value = gauge.read()
            except Exception:  # noqa: BLE001 - a missing sample beats a failed scrape
                log.warning("metric %s could not be read", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, gauge.description, value=value)


def operations_blueprint(
    readiness_checks: Mapping[str, Callable[[], bool]], scrape_gauges: Mapping[str, ScrapeGauge] | None = None
) -> Blueprint:
    """/healthz (process alive), /readyz (dependencies reachable) and /metrics (Prometheus)."""
    ops = Blueprint("operations", __name__)

    @ops.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @ops.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results = {name: check() for name, check in readiness_checks.items()}
        ready = all(results.values())
        return jsonify(status="ready" if ready else "not ready", checks=results), 200 if ready else 503

    @ops.get("/metrics")
    def metrics() -> Response:
        scraped = CollectorRegistry()
        scraped.register(_ScrapeGauges(scrape_gauges or {}))
        body = generate_latest(_metrics_registry()) + generate_latest(scraped)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)

    return ops


def _metrics_registry() -> CollectorRegistry:
    """Under gunicorn with several workers, every worker's samples come from the shared folder."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def install_request_metrics(app: Flask) -> None:
    """Time every request by its route pattern (never the raw path: ids would explode the labels)."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response


def create_api_app(
    import_name: str,
    *,
    title: str,
    blueprints: list[flask_smorest.Blueprint],
    readiness_checks: Mapping[str, Callable[[], bool]],
    config: Mapping[str, Any] | None = None,
    scrape_gauges: Mapping[str, ScrapeGauge] | None = None,
) -> Flask:
    """A service's Flask app: its API blueprints documented at /openapi.json, errors as problem+json,
    the operations endpoints and request metrics (plus `scrape_gauges`, read on each scrape)."""
    app = Flask(import_name)
    app.config.update(
        API_TITLE=title,
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(config or {})
    api = ProblemApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.register_blueprint(operations_blueprint(readiness_checks, scrape_gauges))
    document_operations(api, app)
    document_input_guard(api.spec)
    install_problem_handlers(app)
    install_request_metrics(app)
    install_input_guard(app)
    install_cache_control(app)
    app.extensions["problem_api"] = api
    return app


def document_field(app: Flask, schema: str, field: str, **keywords: Any) -> None:
    """Add JSON Schema keywords known only once the app is configured (a policy's pattern) to a field
    of a request schema in the app's OpenAPI document."""
    api: flask_smorest.Api = app.extensions["problem_api"]
    api.spec.components.schemas[schema]["properties"][field].update(keywords)
