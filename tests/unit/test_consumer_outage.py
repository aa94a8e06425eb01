"""A consumer whose brokers are unreachable waits for them instead of ending the worker."""

import threading

from kafka.errors import KafkaConnectionError

from accounts_common import consumer as consumer_module
from accounts_common.consumer import EventConsumer


class UnreachableThenStopped:
    """A KafkaConsumer stand-in: poll() fails as kafka-python does with no broker, then stops the run."""

    def __init__(self, failures: int, stop: threading.Event) -> None:
        self.failures, self.stop, self.polls, self.closed = failures, stop, 0, False

    def poll(self, timeout_ms: int) -> dict:  # type: ignore[type-arg]
        self.polls += 1
        if self.polls <= self.failures:
            raise KafkaConnectionError("111 ECONNREFUSED")
        self.stop.set()
        return {}

    def assignment(self) -> set:  # type: ignore[type-arg]
        return set()

    def close(self, autocommit: bool) -> None:
        self.closed = True


def test_the_worker_keeps_polling_through_a_broker_outage(monkeypatch):
    monkeypatch.setattr(consumer_module, "UNREACHABLE_WAIT_S", 0.01)
    stop = threading.Event()
    fake = UnreachableThenStopped(failures=3, stop=stop)
    worker = EventConsumer(
        group="test",
        topics=("topic",),
        handlers={},
        pool=None,  # type: ignore[arg-type]
        bootstrap_servers="unused",
        consumer_factory=lambda *args, **kwargs: fake,
    )

    worker.run(stop)

    assert fake.polls == 4
    assert fake.closed
