"""Errors as RFC 9457 problem+json: the Problem a view raises, the response it becomes, the
handlers every app installs, and how an endpoint documents the problems it answers."""

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import flask_smorest
import psycopg
from flask import Flask, Request, Response, jsonify, request
from marshmallow import Schema, fields
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import BadRequest

log = logging.getLogger(__name__)


PROBLEM_JSON = "application/problem+json"

PROBLEM_TYPE_BASE = "/problems/"

RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}
}

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
    members: Mapping[str, Any] | None = None,
) -> Response:
    """A problem+json response; `type` is about:blank unless the problem has a slug of its own.
    `members` are the problem type's extension members (RFC 9457 §3.2)."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(members or {})
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


def install_refusals(app: Flask, refusals: Mapping[type[Exception], tuple[int, str, str | None]]) -> None:
    """Answer what the use cases refuse, each exception type with its (status, slug, detail) problem.

    A detail of None takes the exception's own words; an `errors` attribute (field -> messages) is
    passed on as the problem's errors.
    """
    for error_type, (status, slug, detail) in refusals.items():
        app.register_error_handler(error_type, _refusal_answer(status, slug, detail))


def _refusal_answer(status: int, slug: str, detail: str | None) -> Callable[[Exception], Response]:
    def answer(error: Exception) -> Response:
        errors = getattr(error, "errors", None)
        return problem_response(status, slug=slug, detail=detail or str(error), errors=errors)

    return answer


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
