"""Fuzzing the mailer's operator API (its OpenAPI document) with schemathesis and every check, against
the in-process app and a real database: no 5xx, and every answer is one the document declares."""

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask

from accounts_common.db import create_pool
from accounts_common.roles import Role
from mailer.entrypoints.app import create_app
from mailer.migrations import MAILER_MIGRATIONS
from tests.conftest import Infra, migrated_database
from tests.integration.conftest import bearer, private_mailer_settings, sign_up, staff_token
from tests.support.fuzzing import ODD, documented_operations, fuzz_every_operation, has_inputs
from tests.support.outbox import oldest_pending_age

# Schema-valid data may still be refused for a missing or wrong token, or one without the support role
# (401/403), or name a dead letter there is not (404); never 422.
ACCEPTED = ["2xx", "401", "403", "404"]
REJECTED = ["400", "401", "403", "404", "405", "406", "413", "415", "422"]


@pytest.fixture(scope="module")
def mailer_db(infra: Infra) -> str:
    return migrated_database(infra, "test_mailer_openapi", MAILER_MIGRATIONS)


@pytest.fixture
def fuzzed_app(mailer_db, served_identity, infra) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "openapi")
    with create_pool(mailer_db, name="test-mailer-openapi") as pool:
        yield create_app(settings, pool)


def test_every_operation_is_documented(fuzzed_app):
    assert documented_operations(fuzzed_app) == {
        ("/v1/deliveries", "get"),
        ("/v1/dead-letters", "get"),
        ("/v1/dead-letters/replays", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }


def test_a_replay_names_a_letter_by_both_numbers_or_by_neither_never_by_a_null(
    fuzzed_app, served_identity, identity_pool
):
    """The fuzzing once sent {"partition": null, "offset": 9066}: documented as valid, then refused."""
    document = fuzzed_app.test_client().get("/openapi.json").json
    request = document["components"]["schemas"]["ReplayRequest"]
    assert [request["properties"][name]["type"] for name in ("partition", "offset")] == ["integer", "integer"]
    support = bearer(staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT))
    refused = fuzzed_app.test_client().post(
        "/v1/dead-letters/replays", json={"partition": None, "offset": 9066}, headers=support
    )
    assert refused.status_code == 422, refused.json
    assert "partition" in refused.json["errors"], refused.json


def test_every_support_operation_names_its_bearer_token_and_its_role(fuzzed_app):
    paths = fuzzed_app.test_client().get("/openapi.json").json["paths"]
    for path in ("/v1/deliveries", "/v1/dead-letters", "/v1/dead-letters/replays"):
        [operation] = paths[path].values()
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "does not hold the support role" in operation["responses"]["403"]["description"], path


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE, ODD]
)
def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    fuzzed_app, served_identity, identity_pool, unique_email, mode
):
    identity = served_identity.app.extensions["identity"]
    support = bearer(staff_token(identity, identity_pool, Role.SUPPORT))
    plain = bearer(sign_up(served_identity.app.test_client(), identity_pool, unique_email))
    credentials = [support, plain, bearer("not-a-token")]
    fuzz_every_operation(
        fuzzed_app,
        mode,
        lambda case: credentials[(len(repr(case.query)) + len(repr(case.body))) % len(credentials)],
        accepted=ACCEPTED,
        rejected=REJECTED,
        negatable=has_inputs,
    )


def test_metrics_tell_how_long_the_oldest_unpublished_event_has_waited(fuzzed_app):
    """What the OutboxNotPublishing alert reads, for this service's relay."""
    assert oldest_pending_age(fuzzed_app.test_client().get("/metrics").text) is not None
