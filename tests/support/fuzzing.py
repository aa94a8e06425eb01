"""Fuzzing a service's OpenAPI document with schemathesis against its in-process app: no 5xx, and
every answer (status, content type, headers, body) is one the document declares."""

from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

EXAMPLES_PER_OPERATION = 25


def documented_operations(app: Flask) -> set[tuple[str, str]]:
    """(path, method) of every operation the app's /openapi.json describes."""
    document = app.test_client().get("/openapi.json").json
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }


def has_body(operation: Any) -> bool:
    """Negative cases need something to make invalid: here, a request body."""
    return bool(len(operation.body))


def has_inputs(operation: Any) -> bool:
    """Negative cases need something to make invalid: a body, query or path parameters."""
    return any(len(part) for part in (operation.body, operation.query, operation.path_parameters))


def fuzz_every_operation(
    app: Flask,
    mode: schemathesis.GenerationMode,
    credentials: Callable[[Any], dict[str, str]],
    *,
    accepted: list[str],
    rejected: list[str] | None = None,
    negatable: Callable[[Any], bool] = has_body,
) -> None:
    """Call every operation of the app's /openapi.json with generated cases and run every check
    schemathesis has on each answer; schema-valid data may only get the `accepted` statuses, and
    invalid data (when given) only the `rejected` ones."""
    checks: dict[str, Any] = {"positive_data_acceptance": {"expected-statuses": accepted}}
    if rejected is not None:
        checks["negative_data_rejection"] = {"expected-statuses": rejected}
    config = SchemathesisConfig.from_dict({"checks": checks})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is schemathesis.GenerationMode.NEGATIVE and not negatable(operation):
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):  # type: ignore[no-untyped-def]
            # Half the cases carry credentials, so authenticated operations get past their checks.
            headers = credentials(case) if len(repr(case.body)) % 2 else None
            case.call_and_validate(headers=headers, checks=CHECKS.get_all())

        fuzz()
