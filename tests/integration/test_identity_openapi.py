"""Fuzzing identity's OpenAPI document with schemathesis against the in-process app and a real database:
no 5xx, and every answer (status, content type, headers, body) is one the document declares."""

import pytest
import schemathesis

from identity.entrypoints.app import create_app
from tests.integration.conftest import bearer, sign_up
from tests.support.fuzzing import ODD, fuzz_every_operation

# Schema-valid data may still be refused for what no schema can state: a wrong code (400: which six
# digits are right is the secret), a password on the common list, an unknown or wrong credential
# (401/403), a rate limit (429). It must never be a 422: the document states every rule of shape
# that the server enforces.
ACCEPTED = ["2xx", "400", "401", "403", "404", "429"]


@pytest.fixture
def fuzzed_app(make_identity):  # type: ignore[no-untyped-def]
    return create_app(make_identity())


def test_every_operation_is_documented_with_its_errors(fuzzed_app):
    document = fuzzed_app.test_client().get("/openapi.json").json
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == {
        ("/v1/accounts", "post"),
        ("/v1/accounts/verification", "post"),
        ("/v1/accounts/verification/resend", "post"),
        ("/v1/accounts/me", "get"),
        ("/v1/accounts/me", "patch"),
        ("/v1/accounts/me", "delete"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/current", "delete"),
        ("/v1/password-resets", "post"),
        ("/v1/password-resets/verification", "post"),
        ("/v1/password-resets/completion", "post"),
        ("/v1/accounts/me/totp", "post"),
        ("/v1/accounts/me/totp/verification", "post"),
        ("/v1/staff", "get"),
        ("/v1/staff/grants", "post"),
        ("/v1/staff/revocations", "post"),
        ("/v1/audit", "get"),
        ("/v1/support/accounts", "get"),
        ("/v1/support/accounts/code-resends", "post"),
        ("/v1/support/accounts/erasures", "post"),
        ("/.well-known/jwks.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    login = document["paths"]["/v1/sessions"]["post"]["responses"]
    assert {"200", "401", "403", "422", "429", "default"} <= set(login)
    assert "application/problem+json" in login["401"]["content"]
    assert "Retry-After" in login["429"]["headers"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    staff_only = [
        (path, method) for path, method in operations if path.startswith(("/v1/staff", "/v1/support"))
    ]
    for path, method in [*staff_only, ("/v1/audit", "get")]:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "second-factor-required" in operation["responses"]["403"]["description"], path
        assert {"401", "403"} <= set(operation["responses"]), path


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE, ODD]
)
def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    fuzzed_app, identity_pool, unique_email, mode
):
    token = sign_up(fuzzed_app.test_client(), identity_pool, unique_email)
    fuzz_every_operation(fuzzed_app, mode, lambda _case: bearer(token), accepted=ACCEPTED)
