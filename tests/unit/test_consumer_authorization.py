"""Kafka refusing a worker's login or an ACL is no outage to wait out: the worker stops, naming what
was refused and what to fix, and the process exits non-zero (fakes raising kafka-python's own
exceptions; the local broker has no ACLs nor SASL listener to refuse anything for real)."""

import logging
import signal
import threading
from collections.abc import Callable, Iterator

import pytest
from kafka import TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAuthorizationFailedError,
)

from accounts_common import process
from accounts_common.consumer import EventConsumer
from accounts_common.kafka import KafkaNotAuthorized
from accounts_common.process import run_together, run_until_signalled
from tests.support.consumer_fakes import OnePartitionConsumer, consumer_on, user_registered_record
from tests.support.kafka_refusals import refusal_name, refusals
from tests.support.workers import stopped_after

PARTITION = TopicPartition("mailer.topic", 0)
REFUSALS = refusals("mailer.topic", "mailer")
SAYS = r"does not authorize this client .*grant its ACLs|refused the login of this client"


class FakeKafkaConsumer(OnePartitionConsumer):
    """A KafkaConsumer whose poll() hands out `records` once, then raises `error` (if any)."""

    def __init__(self, error: KafkaError | None, records: list | None = None) -> None:  # type: ignore[type-arg]
        super().__init__(PARTITION)
        self.error, self.records, self.polls = error, records, 0

    def poll(self, timeout_ms: int):  # type: ignore[no-untyped-def]
        self.polls += 1
        if self.records is not None:
            records, self.records = self.records, None
            return {PARTITION: records}
        if self.error is not None:
            raise self.error
        return {}


class RefusingProducer:
    """A KafkaProducer (the dead letters') whose every send Kafka refuses with `error`."""

    def __init__(self, error: KafkaError) -> None:
        self.error = error

    def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise self.error

    def close(self, timeout: float | None = None) -> None:
        pass


def worker(factory: Callable[..., object], producer: object = None) -> EventConsumer:
    return consumer_on(
        None,
        group="mailer",
        topics=(PARTITION.topic,),
        base_backoff=0.01,
        max_backoff=0.01,
        consumer_factory=factory,
        producer_factory=lambda *args, **kwargs: producer,
    )


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """The run's stop, set after 5 s: a worker that took the refusal for an outage would run on."""
    with stopped_after(5) as stop:
        yield stop


@pytest.mark.parametrize("refusal", REFUSALS, ids=refusal_name)
def test_a_refused_poll_stops_the_worker_naming_the_refusal(stop, refusal):
    fake = FakeKafkaConsumer(refusal)
    with pytest.raises(KafkaNotAuthorized, match=SAYS) as raised:
        worker(lambda *args, **kwargs: fake).run(stop)
    assert type(refusal).__name__ in str(raised.value) and str(raised.value).startswith("mailer: ")
    assert fake.polls == 1, "polled again as if Kafka were unreachable"
    assert fake.closed


def test_a_login_refused_as_the_consumer_is_made_stops_the_worker(stop):
    def refusing_factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SaslAuthenticationFailedError("invalid credentials")

    with pytest.raises(KafkaNotAuthorized, match="refused the login.*KAFKA_SASL_PASSWORD"):
        worker(refusing_factory).run(stop)


def test_a_dead_letter_topic_it_may_not_write_stops_the_worker_not_a_retry_for_good(stop):
    """The group may read its topics but not write <group>.dlq: retrying that letter cannot help."""
    bad = user_registered_record(PARTITION)._replace(value=b"{not json")
    fake = FakeKafkaConsumer(None, records=[bad])
    refused = TopicAuthorizationFailedError({"mailer.dlq"})
    with pytest.raises(KafkaNotAuthorized, match="mailer.dlq"):
        worker(lambda *args, **kwargs: fake, RefusingProducer(refused)).run(stop)


def test_a_worker_whose_loop_is_refused_exits_non_zero_with_one_clear_line(stop, monkeypatch, caplog):
    """As the mailer worker runs its consumer beside its relay: the other loop stops too."""
    monkeypatch.setattr(process, "freeze_startup_objects", lambda: None)
    fake = FakeKafkaConsumer(GroupAuthorizationFailedError("mailer"))
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exited:
            run_until_signalled(
                lambda _: run_together(stop, worker(lambda *a, **k: fake).run, lambda s: s.wait())
            )
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert exited.value.code == 1
    [line] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "mailer: Kafka does not authorize" in line.getMessage()
