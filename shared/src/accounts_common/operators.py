"""Operator-only endpoints: a shared bearer token from the environment, compared in constant time."""

import hmac

from accounts_common.web import Problem

BEARER = "bearer "


def require_operator_token(authorization: str | None, expected: str) -> None:
    """Return when `Authorization: Bearer <token>` carries the operator token; else a 401 or 403 Problem."""
    if not authorization or not authorization.lower().startswith(BEARER):
        raise Problem(
            401,
            "operator-token-required",
            "This endpoint is for operators: send Authorization: Bearer <operator token>.",
            headers={"WWW-Authenticate": 'Bearer realm="operators"'},
        )
    presented = authorization[len(BEARER) :].strip().encode()
    # An unset token refuses everyone rather than accepting an empty one.
    if not expected or not hmac.compare_digest(presented, expected.encode()):
        raise Problem(403, "operator-token-invalid", "The operator token is not valid.")
