"""The parts of a service's OpenAPI document flask-smorest cannot write by itself."""

from typing import Any

import flask_smorest
from flask import Flask
from flask_smorest.utils import prepare_response

from accounts_common.roles import Role

# The scheme every service's document declares (web.create_api_app): a JWT from identity.
BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
NO_TOKEN = "No valid access token"


def staff_problems(role: Role, *, revocations: bool = True) -> dict[int, str]:
    """The 401 and 403 an endpoint for staff holding `role` (logged in with a second factor) answers.
    `revocations`: the service reads identity's revocations (auth.TokenVerifier with a pool), so a
    revoked token is its 403; identity, which keeps the sessions, answers 401 for one."""
    refusals = [
        f"role-required: the caller does not hold the {role.value} role",
        "second-factor-required: logged in without a TOTP code",
    ]
    if revocations:
        refusals.append("token-revoked: the session ended (a logout, a password reset, a role change)")
    return {401: NO_TOKEN, 403: "; ".join(refusals)}


def document_operations(api: flask_smorest.Api, app: Flask) -> None:
    """Put /healthz, /readyz and /metrics (plain Flask routes of operations_blueprint) in the OpenAPI."""
    spec = api.spec
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}

    def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = {"description": description, "schema": schema}
        prepare_response(response, spec, "application/json")
        return response

    def get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"tags": ["operations"], "summary": summary, "responses": responses}}

    alive = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
    readiness = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
        "required": ["status", "checks"],
    }
    metrics = {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
    spec.path(
        rule=rules["/healthz"], operations=get("The process is alive", {"200": json_response("Alive", alive)})
    )
    spec.path(
        rule=rules["/readyz"],
        operations=get(
            "Its dependencies answer",
            {"200": json_response("Ready", readiness), "503": json_response("Not ready", readiness)},
        ),
    )
    spec.path(rule=rules["/metrics"], operations=get("Prometheus metrics", {"200": metrics}))
