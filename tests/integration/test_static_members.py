"""Static group members on the real broker: a member fenced once joins again as a new member and
carries on; two consumers that really share an instance id do not trade it for ever, one stops."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

from kafka import KafkaProducer
from prometheus_client import REGISTRY

from accounts_common.consumer import EventConsumer
from accounts_common.events import Topic, new_event
from accounts_common.kafka import InstanceFenced, create_consumer
from tests.conftest import Infra, fresh_topics
from tests.support.consumer_fakes import NoDatabase
from tests.support.polling import wait_for

INSTANCE = "worker-1"


class Worker:
    """An EventConsumer run in a thread, keeping the ids of the events it handled and how it ended."""

    def __init__(self, infra: Infra, group: str, topic: str) -> None:
        self.handled: list[str] = []
        self.ended_with: BaseException | None = None
        self.consumer = EventConsumer(
            group=group,
            topics=(topic,),
            handlers={"UserRegistered": lambda conn, event, data: self.handled.append(event.id)},
            pool=NoDatabase(),  # type: ignore[arg-type]  # the handler keeps what it saw in memory
            bootstrap_servers=infra.kafka,
            inbox=False,
            group_instance_id=INSTANCE,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.consumer.run(self.stop)
        except BaseException as error:  # noqa: BLE001 - the test reads how the worker ended
            self.ended_with = error


@contextmanager
def workers(*started: Worker) -> Iterator[None]:
    for worker in started:
        worker.thread.start()
    try:
        yield
    finally:
        for worker in started:
            worker.stop.set()
        for worker in started:
            worker.thread.join(30)


def fresh_group(infra: Infra) -> tuple[str, str]:
    topic = f"test.static-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    return f"test-static-{uuid.uuid4().hex[:8]}", topic


def send_registered(infra: Infra, topic: str) -> str:
    account = str(uuid.uuid4())
    data = {"account_id": account, "email": "a@example.org", "registered_at": "2026-12-07T10:00:00+00:00"}
    event = new_event("UserRegistered", source="/tests", subject=account, data=data)
    producer = KafkaProducer(bootstrap_servers=infra.kafka)
    producer.send(topic, key=account.encode(), value=event.to_json().encode())
    producer.flush()
    producer.close()
    return event.id


def rejoins_after_fence(group: str) -> float:
    return REGISTRY.get_sample_value("consumer_fenced_rejoins_total", {"group": group}) or 0.0


def test_a_member_fenced_by_a_consumer_that_came_and_went_takes_its_instance_id_back(infra):
    group, topic = fresh_group(infra)
    worker = Worker(infra, group, topic)
    with workers(worker):
        first = send_registered(infra, topic)
        wait_for(lambda: first in worker.handled, timeout=60, what="the first event handled")
        # A second consumer joins under the same instance id (a restart overlapping the old process),
        # which fences the worker, then goes away.
        with closing(
            create_consumer(infra.kafka, group_id=group, topics=(topic,), group_instance_id=INSTANCE)
        ) as other:
            wait_for(
                lambda: other.poll(timeout_ms=200) is not None and other.assignment(),
                timeout=60,
                what="the other consumer holding the partition",
            )
            wait_for(lambda: rejoins_after_fence(group) == 1, timeout=60, what="the worker joining again")
        second = send_registered(infra, topic)
        wait_for(lambda: second in worker.handled, timeout=60, what="the event sent after the fence handled")
        assert worker.thread.is_alive()  # before: it stopped, InstanceFenced, at the first fence


def test_two_workers_sharing_an_instance_id_end_with_one_of_them_stopped(infra):
    group, topic = fresh_group(infra)
    one, two = Worker(infra, group, topic), Worker(infra, group, topic)
    with workers(one):
        wait_for(
            lambda: send_registered(infra, topic) and one.handled, timeout=60, what="the first worker reading"
        )
        with workers(two):
            wait_for(
                lambda: not one.thread.is_alive() or not two.thread.is_alive(),
                timeout=90,
                what="one of the two workers stopping",
            )
            stopped, running = (one, two) if not one.thread.is_alive() else (two, one)
            assert isinstance(stopped.ended_with, InstanceFenced)
            assert "give each worker its own instance id" in str(stopped.ended_with)
            last = send_registered(infra, topic)
            wait_for(lambda: last in running.handled, timeout=60, what="the other worker reading on")
            assert running.thread.is_alive()
