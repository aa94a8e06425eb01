"""The mailer's dead letters live in Kafka: when it does not answer, support staff get a 503 problem
within the reader's timeout, not a request that waits until gunicorn kills its worker; when it lists
no dead-letter topic (an ACL hides a topic as absence), a 503 that says so, not "no dead letters"."""

import dataclasses
import socket
from collections.abc import Iterator

import pytest
from kafka.errors import TopicAuthorizationFailedError

from accounts_common import kafka
from accounts_common.db import create_pool
from accounts_common.roles import Role
from mailer.entrypoints.app import create_app
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer.support import Support
from tests.conftest import Infra, migrated_database
from tests.integration.conftest import bearer, private_mailer_settings, staff_token


@pytest.fixture(scope="module")
def mailer_db(infra: Infra) -> str:
    return migrated_database(infra, "test_mailer_dead_letters_outage", MAILER_MIGRATIONS)


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """An address that accepts connections and never answers, as a hung broker does."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v1/dead-letters", None), ("POST", "/v1/dead-letters/replays", {"partition": 0, "offset": 0})],
)
def test_a_silent_kafka_is_a_503_problem(
    mailer_db, served_identity, identity_pool, infra, silent_broker, method, path, body, monkeypatch
):
    # The reader's timeout, not its length (10 s in production), is what is tested: 1 s will do.
    monkeypatch.setattr(kafka, "READER_TIMEOUT_MS", 1_000)
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "outage")
    settings = dataclasses.replace(settings, kafka_bootstrap_servers=silent_broker)
    support = bearer(staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT))
    with create_pool(mailer_db, name="test-mailer-outage") as pool:
        client = create_app(settings, pool).test_client()
        answer = client.open(path, method=method, json=body, headers=support)
    assert answer.status_code == 503, answer.json
    assert answer.mimetype == "application/problem+json"
    assert answer.json["type"].endswith("/dead-letters-unavailable")
    assert "Kafka did not answer" in answer.json["detail"]


def test_a_kafka_refusing_the_mailers_acl_is_a_503_that_says_so_not_an_outage(
    mailer_db, served_identity, identity_pool, infra, monkeypatch, caplog
):
    """The local broker has no ACLs: the refusal is kafka-python's own, raised where the letters are read."""

    def refused(self: Support, actor: object) -> list[object]:
        raise TopicAuthorizationFailedError({"mailer.dlq"})

    monkeypatch.setattr(Support, "dead_letters", refused)
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "refused")
    support = bearer(staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT))
    with create_pool(mailer_db, name="test-mailer-refused") as pool:
        answer = create_app(settings, pool).test_client().get("/v1/dead-letters", headers=support)
    assert answer.status_code == 503 and answer.json["type"].endswith("/dead-letters-unavailable")
    assert "does not authorize" in answer.json["detail"] and "did not answer" not in answer.json["detail"]
    assert any(
        "grant its ACLs" in record.getMessage() for record in caplog.records if record.levelname == "ERROR"
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v1/dead-letters", None), ("POST", "/v1/dead-letters/replays", {"partition": 0, "offset": 0})],
)
def test_a_dead_letter_topic_kafka_does_not_list_is_a_503_that_says_so_not_an_empty_list(
    mailer_db, served_identity, identity_pool, infra, method, path, body, caplog
):
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "unlisted")
    settings = dataclasses.replace(settings, consumer_group=f"{settings.consumer_group}-no-topic")
    support = bearer(staff_token(served_identity.app.extensions["identity"], identity_pool, Role.SUPPORT))
    with create_pool(mailer_db, name="test-mailer-unlisted") as pool:
        client = create_app(settings, pool).test_client()
        answer = client.open(path, method=method, json=body, headers=support)
    assert answer.status_code == 503 and answer.json["type"].endswith("/dead-letters-unavailable")
    topic = f"{settings.consumer_group}.dlq"
    assert answer.json["detail"].startswith(f"Kafka lists no topic {topic}: it does not exist, or an ACL")
    # Support sees "unavailable"; the operator finds the cause in the mailer's log.
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any(f"Kafka lists no topic {topic}" in message for message in errors)
