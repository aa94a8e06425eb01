"""Fuzzing a service's OpenAPI document with schemathesis against its in-process app: no 5xx, and
every answer (status, content type, headers, body) is one the document declares."""

import functools
from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from accounts_common.inputguard import MAX_DEPTH

EXAMPLES_PER_OPERATION = 25
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
# What the input guard refuses (issue 19): control characters, dates out of range, return-path tricks.
ODD_STRINGS = ["\x00", "a\x00b", "line\nbreak", "tab\there", "\r\n", "\x1b[31m", "/\t/evil.example",
               "9999-12-31", "0001-01-01", "9999-12-31T23:59:59+00:00"]  # fmt: skip
# Only a JSON body can carry these: a URL cannot encode a lone surrogate.
ODD_BODY_STRINGS = [*ODD_STRINGS, "\ud800", "x\udfff"]
TOO_DEEP = functools.reduce(lambda inner, _: [inner], range(MAX_DEPTH + 8), [])
ODD = "odd strings"  # a third mode of fuzz_every_operation: positive cases made odd by one string
ODD_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]


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
    mode: schemathesis.GenerationMode | str,
    credentials: Callable[[Any], dict[str, str]],
    *,
    accepted: list[str],
    rejected: list[str] | None = None,
    negatable: Callable[[Any], bool] = has_body,
) -> None:
    """Call every operation of the app's /openapi.json with generated cases and run every check
    schemathesis has on each answer; schema-valid data may only get the `accepted` statuses, and
    invalid data (when given) only the `rejected` ones. In the ODD mode, fuzz_with_odd_strings."""
    if mode == ODD:
        return fuzz_with_odd_strings(app, credentials)
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
        @FUZZ_SETTINGS
        def fuzz(case):  # type: ignore[no-untyped-def]
            # Half the cases carry credentials, so authenticated operations get past their checks.
            headers = credentials(case) if len(repr(case.body)) % 2 else None
            case.call_and_validate(headers=headers, checks=CHECKS.get_all())

        fuzz()


def fuzz_with_odd_strings(app: Flask, credentials: Callable[[Any], dict[str, str]]) -> None:
    """Call every operation with schema-valid cases whose strings (of the body, query and path) are
    replaced by an odd one, or whose body nests too deep: no 5xx, and only documented answers."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    checks = CHECKS.get_by_names(ODD_CHECKS)
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(
            case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
            data=st.data(),
        )
        @FUZZ_SETTINGS
        def fuzz(case, data):  # type: ignore[no-untyped-def]
            slots = _string_slots(case)
            if case.body is not None and (not slots or data.draw(st.integers(0, 9)) == 0):
                case.body = TOO_DEEP
            elif slots:
                # Every string at once: an optional field (a date filter, say) is odd whenever present.
                odd = data.draw(st.sampled_from(ODD_STRINGS + ODD_BODY_STRINGS))
                for container, key, in_body in slots:
                    container[key] = odd if in_body or odd in ODD_STRINGS else "\x00"
            headers = credentials(case) if len(repr(case.body)) % 2 else None
            case.call_and_validate(headers=headers, checks=checks)

        fuzz()


def _string_slots(case: Any) -> list[tuple[Any, Any, bool]]:
    """(container, key, in a JSON body) of every string value of the case's body, query and path."""
    slots: list[tuple[Any, Any, bool]] = []

    def walk(value: Any, in_body: bool) -> None:
        items = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        )
        for key, item in items:
            if isinstance(item, str):
                slots.append((value, key, in_body))
            else:
                walk(item, in_body)

    walk(case.body, "json" in (case.media_type or ""))
    walk(case.query or {}, False)
    walk(case.path_parameters or {}, False)
    return slots
