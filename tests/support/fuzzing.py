"""Fuzzing a service's OpenAPI document with schemathesis: every operation, every check."""

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS

EXAMPLES_PER_OPERATION = 25


def fuzz_every_operation(
    schema: Any,
    mode: schemathesis.GenerationMode,
    headers_for: Callable[[Any], dict[str, str] | None],
    *,
    has_input: Callable[[Any], bool] = lambda operation: bool(len(operation.body)),
) -> None:
    """Call every operation with generated cases (`headers_for(case)` as credentials) and validate
    each answer against the document; negative cases only where an operation takes input to spoil."""
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is schemathesis.GenerationMode.NEGATIVE and not has_input(operation):
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
            case.call_and_validate(headers=headers_for(case), checks=CHECKS.get_all())

        fuzz()
