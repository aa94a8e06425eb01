"""Fuzzing the newsletter's OpenAPI document with schemathesis against the in-process app, a real
database and a served identity: no 5xx, and every answer is one the document declares."""

import pytest
import schemathesis

from tests.integration.conftest import bearer, sign_up
from tests.support.fuzzing import ODD, documented_operations, fuzz_every_operation, has_inputs
from tests.support.outbox import oldest_pending_age

# Schema-valid data may still be refused for what no schema states: an unsubscribe token that is not
# signed (400), a missing or wrong credential (401/403), an issue id that does not exist (404). Never
# a 422: the document states every rule of shape. Invalid data may also be refused as too large
# (413: the body limit is checked before the fields).
ACCEPTED = ["2xx", "400", "401", "403", "404"]
REJECTED = ["400", "401", "403", "404", "405", "406", "413", "415", "422"]


@pytest.fixture
def fuzzed_app(newsletter_client):  # type: ignore[no-untyped-def]
    return newsletter_client.application


def test_every_operation_is_documented_with_its_errors(fuzzed_app):
    document = fuzzed_app.test_client().get("/openapi.json").json
    assert documented_operations(fuzzed_app) == {
        ("/v1/subscriptions", "post"),
        ("/v1/subscriptions/me", "get"),
        ("/v1/subscriptions/me", "delete"),
        ("/v1/issues", "get"),
        ("/v1/issues", "post"),
        ("/v1/issues/preview", "post"),
        ("/v1/issues/{issue_id}", "get"),
        ("/v1/issues/{issue_id}", "put"),
        ("/v1/issues/{issue_id}/test", "post"),
        ("/v1/issues/{issue_id}/send", "post"),
        ("/v1/issues/{issue_id}/cancel", "post"),
        ("/v1/unsubscribe", "get"),
        ("/v1/unsubscribe", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    }
    subscribe = document["paths"]["/v1/subscriptions"]["post"]["responses"]
    assert {"200", "201", "401", "403", "default"} <= set(subscribe)
    assert "application/problem+json" in subscribe["403"]["content"]
    assert (
        "application/problem+json"
        in document["paths"]["/v1/unsubscribe"]["get"]["responses"]["400"]["content"]
    )
    # A save and a send name the copy the editor read; an issue only just written has none to name.
    for path, method in (("/v1/issues/{issue_id}", "put"), ("/v1/issues/{issue_id}/send", "post")):
        operation = document["paths"][path][method]
        assert "issue-changed" in operation["responses"]["409"]["description"], (path, method)
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        assert "updated_at" in document["components"]["schemas"][body]["properties"], (path, method)
    assert "updated_at" not in document["components"]["schemas"]["IssueDraft"]["properties"]
    unsubscribed = document["components"]["schemas"]["Figures"]["properties"]["unsubscribed"]["description"]
    assert "own choice before another issue" in unsubscribed and "never goes down" in unsubscribed


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE, ODD]
)
def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    fuzzed_app, served_identity, identity_pool, unique_email, mode, newsletter_editor
):
    token = sign_up(served_identity.app.test_client(), identity_pool, unique_email)
    # The cases with credentials take turns with an account's token and a newsletter editor's.
    credentials = [bearer(token), newsletter_editor]
    fuzz_every_operation(
        fuzzed_app,
        mode,
        lambda case: credentials[len(repr(case.query)) % len(credentials)],
        accepted=ACCEPTED,
        rejected=REJECTED,
        negatable=has_inputs,
    )


def test_metrics_tell_how_long_the_oldest_unpublished_event_has_waited(fuzzed_app):
    """What the OutboxNotPublishing alert reads, for this service's relay."""
    assert oldest_pending_age(fuzzed_app.test_client().get("/metrics").text) is not None
