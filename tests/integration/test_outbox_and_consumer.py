"""The outbox relay and the consumer runtime against the real broker and database."""

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import closing

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError
from prometheus_client import REGISTRY
from psycopg_pool import ConnectionPool

from accounts_common import dlq, outbox
from accounts_common.consumer import EventConsumer
from accounts_common.db import create_pool
from accounts_common.events import InvalidEvent, Topic, dead_letter_topic, new_event
from accounts_common.kafka import KafkaNotAuthorized
from accounts_common.relay import RELAY_LOCK_KEY, OutboxRelay
from accounts_common.retry_policy import PermanentError, RetryLimits, TransientError
from tests.conftest import Infra, fresh_topics, migrated_database
from tests.support.kafka import TopicReader
from tests.support.polling import wait_for
from tests.support.workers import running, stopped_after


def runtime_database(infra: Infra, name: str) -> str:
    """A migrated database with the table the test handlers record into."""
    url = migrated_database(infra, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE handled (event_id uuid NOT NULL, account_id uuid NOT NULL)")
    return url


@pytest.fixture(scope="module")
def scratch_db(infra: Infra) -> str:
    return runtime_database(infra, "test_runtime")


@pytest.fixture(scope="module")
def scratch_pool(scratch_db: str) -> Iterator[ConnectionPool]:
    with create_pool(scratch_db, name="test-runtime") as pool:
        yield pool


@pytest.fixture
def topic(infra: Infra) -> str:
    name = f"test.runtime-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(name, partitions=3))
    return name


def registered(account_id: str, sequence: int):  # type: ignore[no-untyped-def]
    data = {
        "account_id": account_id,
        "email": f"{account_id[:8]}@example.org",
        "registered_at": "2026-11-27T10:00:00+00:00",
        "sequence": sequence,
    }
    return new_event("UserRegistered", source="/tests", subject=account_id, data=data)


def test_relay_publishes_every_event_in_order_per_account(infra, scratch_db, scratch_pool, topic):
    accounts = [str(uuid.uuid4()) for _ in range(8)]
    with scratch_pool.connection() as conn, conn.transaction():
        for sequence in range(25):
            for account in accounts:
                outbox.enqueue(conn, topic, registered(account, sequence))
    reader = TopicReader(infra.kafka, topic)
    relay = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay", batch_size=64)
    with closing(reader), running(relay.run):
        reader.read_until(lambda records: len(records) >= 200, timeout=60, what="200 relayed events")
    by_account = defaultdict(list)
    for record, event in zip(reader.records, reader.events(), strict=True):
        assert record.key.decode() == event["subject"]
        assert dict(record.headers)["content-type"] == b"application/cloudevents+json; charset=UTF-8"
        by_account[event["subject"]].append(event["data"]["sequence"])
    assert {account: sequences for account, sequences in by_account.items()} == {
        account: list(range(25)) for account in accounts
    }
    with scratch_pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0] == 0


def test_events_added_together_keep_their_order_and_one_invalid_among_them_adds_none(scratch_pool, topic):
    account = str(uuid.uuid4())
    valid = [registered(account, sequence) for sequence in range(3)]
    invalid = new_event("UserRegistered", source="/tests", subject=account, data={"account_id": account})
    with scratch_pool.connection() as conn:
        with pytest.raises(InvalidEvent, match="email"), conn.transaction():
            outbox.enqueue_all(conn, topic, [*valid, invalid])
        assert conn.execute("SELECT count(*) FROM outbox WHERE topic = %s", (topic,)).fetchone()[0] == 0
        with conn.transaction():
            outbox.enqueue_all(conn, topic, valid)
        rows = conn.execute(
            "SELECT record_value FROM outbox WHERE topic = %s ORDER BY id", (topic,)
        ).fetchall()
    assert [json.loads(value)["id"] for (value,) in rows] == [str(event.id) for event in valid]


def test_a_state_record_follows_its_event_to_the_same_partition_naming_its_offset(
    infra, scratch_db, scratch_pool
):
    events_topic, state_topic = (f"test.{kind}-{uuid.uuid4().hex[:8]}" for kind in ("events", "state"))
    fresh_topics(infra, Topic(events_topic, partitions=3), Topic(state_topic, partitions=3))
    accounts = [str(uuid.uuid4()) for _ in range(6)]
    with scratch_pool.connection() as conn, conn.transaction():
        for sequence in range(2):
            for account in accounts:
                event = registered(account, sequence)
                outbox.enqueue(conn, events_topic, event)
                outbox.enqueue_state(
                    conn,
                    state_topic,
                    account,
                    {"sequence": sequence} if sequence == 0 else None,
                    follows=event,
                )
    events, states = TopicReader(infra.kafka, events_topic), TopicReader(infra.kafka, state_topic)
    relay = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay-state", batch_size=5)
    with closing(events), closing(states), running(relay.run):
        events.read_until(lambda records: len(records) >= 12, timeout=60, what="12 events")
        states.read_until(lambda records: len(records) >= 12, timeout=60, what="12 state records")
    published = {
        json.loads(r.value)["id"]: (r.partition, r.offset, json.loads(r.value)) for r in events.records
    }
    followed = defaultdict(list)
    for record in states.records:
        headers = dict(record.headers)
        partition, offset, event = published[headers[outbox.FOLLOWS_EVENT_ID_HEADER].decode()]
        assert (record.partition, int(headers[outbox.FOLLOWS_EVENT_OFFSET_HEADER])) == (partition, offset)
        assert record.key.decode() == event["subject"]
        sequence = event["data"]["sequence"]
        assert record.value == (b'{"sequence":0}' if sequence == 0 else None)
        followed[record.partition].append(offset)
    assert all(offsets == sorted(offsets) for offsets in followed.values())


def test_state_records_without_their_partition_wait_while_the_events_flow(infra, scratch_db, scratch_pool):
    events_topic, state_topic = (f"test.{kind}-{uuid.uuid4().hex[:8]}" for kind in ("events", "narrow"))
    fresh_topics(infra, Topic(events_topic, partitions=3), Topic(state_topic, partitions=1))
    accounts = [str(uuid.uuid4()) for _ in range(9)]
    with scratch_pool.connection() as conn, conn.transaction():
        for account in accounts:
            event = registered(account, 0)
            outbox.enqueue(conn, events_topic, event)
            outbox.enqueue_state(conn, state_topic, account, {"sequence": 0}, follows=event)
    events = TopicReader(infra.kafka, events_topic)
    relay = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay-narrow")

    def waiting_partitions() -> set[int]:
        with scratch_pool.connection() as conn:
            rows = conn.execute(
                """SELECT DISTINCT event.kafka_partition FROM outbox state
                   JOIN outbox event ON event.event_id = state.follows_event_id
                   WHERE state.topic = %s AND state.published_at IS NULL""",
                (state_topic,),
            ).fetchall()
        return {partition for (partition,) in rows}

    with closing(events), running(relay.run) as thread:
        events.read_until(lambda records: len(records) >= 9, timeout=60, what="the 9 events")
        # The states of partition 0 go out after their events; the others have no partition to go to.
        expected = {r.partition for r in events.records} - {0}
        wait_for(lambda: waiting_partitions() == expected, timeout=15, what="only partition 0's states out")
        assert thread.is_alive()


def test_relay_is_woken_by_notify_without_waiting_for_the_poll(infra, scratch_db, scratch_pool, topic):
    relay = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay-notify", poll_interval=30.0)
    reader = TopicReader(infra.kafka, topic)
    with closing(reader), running(relay.run):
        account = str(uuid.uuid4())
        wait_for(lambda: _relay_listening(scratch_pool), timeout=20, what="the relay to LISTEN")
        with scratch_pool.connection() as conn, conn.transaction():
            outbox.enqueue(conn, topic, registered(account, 0))
        reader.read_until(
            lambda records: len(records) == 1, timeout=15, what="the event, well before the poll"
        )


def _relay_listening(pool: ConnectionPool) -> bool:
    """The relay holds its advisory lock; it LISTENs before its first look at the outbox."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            (RELAY_LOCK_KEY,),
        ).fetchone()
    return bool(row and row[0])


def consumer_for(
    infra: Infra,
    pool: ConnectionPool,
    topic: str,
    handler,
    inbox: bool = True,
    limits: RetryLimits | None = None,
    on_give_up=None,
    finish_batch=None,
    without_inbox: tuple[str, ...] | set[str] = (),
    event_type: str = "UserRegistered",
) -> EventConsumer:  # type: ignore[no-untyped-def]
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(dead_letter_topic(group), partitions=1))
    return EventConsumer(
        group=group,
        topics=(topic,),
        handlers={event_type: handler},
        pool=pool,
        bootstrap_servers=infra.kafka,
        max_backoff=0.5,
        retry_limits=limits,
        inbox=inbox,
        without_inbox=without_inbox,
        on_give_up=on_give_up,
        finish_batch=finish_batch,
    )


def record_handled(conn, event, data) -> None:  # type: ignore[no-untyped-def]
    conn.execute("INSERT INTO handled (event_id, account_id) VALUES (%s, %s)", (event.id, data["account_id"]))


def handled_ids(pool: ConnectionPool, account: str) -> list[str]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT event_id FROM handled WHERE account_id = %s", (account,)).fetchall()
    return [str(row[0]) for row in rows]


def send_raw(infra: Infra, topic: str, key: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=infra.kafka)
    for value in values:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def test_the_same_event_delivered_twice_is_handled_once(infra, scratch_pool, topic):
    account = str(uuid.uuid4())
    event = registered(account, 0)
    last = registered(account, 1)
    send_raw(
        infra, topic, account, [event.to_json().encode(), event.to_json().encode(), last.to_json().encode()]
    )
    consumer = consumer_for(infra, scratch_pool, topic, record_handled)
    with running(consumer.run):
        wait_for(lambda: last.id in handled_ids(scratch_pool, account), timeout=30, what="the events handled")
    assert sorted(handled_ids(scratch_pool, account)) == sorted([event.id, last.id])


def test_malformed_records_go_to_the_dead_letters_and_the_consumer_keeps_going(infra, scratch_pool, topic):
    account = str(uuid.uuid4())
    bad_data = new_event("UserRegistered", source="/tests", subject=account, data={"account_id": "nope"})
    good = registered(account, 1)
    send_raw(infra, topic, account, [b"{not json", bad_data.to_json().encode(), good.to_json().encode()])
    consumer = consumer_for(infra, scratch_pool, topic, record_handled)
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(consumer.group))
    with closing(dead_letters), running(consumer.run):
        wait_for(lambda: good.id in handled_ids(scratch_pool, account), timeout=30, what="the good event")
        dead_letters.read_until(lambda records: len(records) >= 2, timeout=30, what="two dead letters")
    first, second = (dict(record.headers) for record in dead_letters.records)
    assert dead_letters.records[0].value == b"{not json"
    assert b"not JSON" in first["dlq.reason"]
    assert b"account_id" in second["dlq.reason"] and b"email" in second["dlq.reason"]
    assert first["dlq.original.topic"] == topic.encode()
    assert int(first["dlq.original.offset"]) < int(second["dlq.original.offset"])
    assert handled_ids(scratch_pool, account) == [good.id]


def test_a_transient_failure_is_retried_until_it_passes(infra, scratch_pool, topic):
    account = str(uuid.uuid4())
    event = registered(account, 0)
    failures = iter([TransientError("SMTP 451 try later"), TransientError("again")])

    def flaky(conn, event, data):  # type: ignore[no-untyped-def]
        error = next(failures, None)
        if error:
            raise error
        record_handled(conn, event, data)

    send_raw(infra, topic, account, [event.to_json().encode()])
    consumer = consumer_for(infra, scratch_pool, topic, flaky)
    with running(consumer.run):
        wait_for(lambda: handled_ids(scratch_pool, account), timeout=30, what="the event after two retries")
    assert handled_ids(scratch_pool, account) == [event.id]


def send_to_partition(infra: Infra, topic: str, partition: int, events) -> None:  # type: ignore[no-untyped-def]
    producer = KafkaProducer(bootstrap_servers=infra.kafka)
    for event in events:
        producer.send(topic, key=event.subject.encode(), value=event.to_json().encode(), partition=partition)
    producer.flush()
    producer.close()


def test_a_failing_partition_is_paused_while_the_others_keep_flowing(infra, scratch_pool, topic):
    stuck, flowing = str(uuid.uuid4()), str(uuid.uuid4())
    stuck_events = [registered(stuck, sequence) for sequence in range(3)]
    flowing_events = [registered(flowing, sequence) for sequence in range(20)]
    smtp_recovered = threading.Event()
    attempts = defaultdict(int)

    def fails_for_stuck_until_recovered(conn, event, data):  # type: ignore[no-untyped-def]
        attempts[event.id] += 1
        if str(data["account_id"]) == stuck and not smtp_recovered.is_set():
            raise TransientError("SMTP 451 try later")
        record_handled(conn, event, data)

    send_to_partition(infra, topic, 0, stuck_events)
    send_to_partition(infra, topic, 1, flowing_events)
    consumer = consumer_for(infra, scratch_pool, topic, fails_for_stuck_until_recovered)
    with running(consumer.run):
        wait_for(
            lambda: len(handled_ids(scratch_pool, flowing)) == 20,
            timeout=30,
            what="the other partition's events while the first one is failing",
        )
        wait_for(lambda: attempts[stuck_events[0].id] >= 3, timeout=30, what="three attempts at the first")
        assert handled_ids(scratch_pool, stuck) == []
        assert all(attempts[event.id] == 0 for event in stuck_events[1:]), "ran ahead of the failed record"
        smtp_recovered.set()
        wait_for(
            lambda: len(handled_ids(scratch_pool, stuck)) == 3, timeout=30, what="the stuck events to pass"
        )
        wait_for(
            lambda: committed_offsets(infra, consumer.group, topic) == {0: 3, 1: 20},
            timeout=30,
            what="the offsets committed up to the end of both partitions",
        )
    assert sorted(handled_ids(scratch_pool, stuck)) == sorted(event.id for event in stuck_events)


def committed_offsets(infra: Infra, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset of each partition of the topic that has one."""
    reader = KafkaConsumer(bootstrap_servers=infra.kafka, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        return {tp.partition: offset for tp in partitions if (offset := reader.committed(tp)) is not None}
    finally:
        reader.close()


@pytest.mark.parametrize(
    "inbox", [{"inbox": False}, {"without_inbox": {"UserRegistered"}}], ids=["no-inbox", "type-without-inbox"]
)
def test_without_the_inbox_the_handler_runs_on_an_autocommit_connection(infra, scratch_pool, topic, inbox):
    account = str(uuid.uuid4())
    event = registered(account, 0)
    in_transaction = []

    def handler(conn, event, data):  # type: ignore[no-untyped-def]
        in_transaction.append(conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)
        record_handled(conn, event, data)

    send_raw(infra, topic, account, [event.to_json().encode()])
    consumer = consumer_for(infra, scratch_pool, topic, handler, **inbox)
    with running(consumer.run):
        wait_for(lambda: handled_ids(scratch_pool, account), timeout=30, what="the event handled")
    assert in_transaction == [False]
    with scratch_pool.connection() as conn:
        inbox_rows = conn.execute(
            "SELECT count(*) FROM processed_events WHERE consumer = %s", (consumer.group,)
        ).fetchone()[0]
    assert inbox_rows == 0


def run_until_handled(consumer: EventConsumer, pool: ConnectionPool, account: str, event_id: str):  # type: ignore[no-untyped-def]
    """Run the consumer until `event_id` is handled; the worker thread, to check it is still alive."""
    with running(consumer.run) as thread:
        wait_for(
            lambda: event_id in handled_ids(pool, account), timeout=60, what="the record after the bad one"
        )
        assert thread.is_alive(), "the worker died"


def dead_letter_reasons(reader: TopicReader, count: int) -> list[bytes]:
    try:
        reader.read_until(lambda records: len(records) >= count, timeout=30, what=f"{count} dead letter(s)")
    finally:
        reader.close()
    return [dict(record.headers)["dlq.reason"] for record in reader.records]


def test_an_unexpected_exception_is_retried_then_the_record_passes(infra, scratch_pool, topic):
    account = str(uuid.uuid4())
    event = registered(account, 0)
    calls = []

    def buggy_twice(conn, event, data):  # type: ignore[no-untyped-def]
        calls.append(event.id)
        if len(calls) <= 2:
            raise RuntimeError("a bug that a retry gets past")
        record_handled(conn, event, data)

    send_raw(infra, topic, account, [event.to_json().encode()])
    consumer = consumer_for(
        infra, scratch_pool, topic, buggy_twice, limits=RetryLimits(unexpected_attempts=5)
    )
    run_until_handled(consumer, scratch_pool, account, event.id)
    assert calls == [event.id] * 3


def dead_letter_of_the_first_of_two(infra, pool, topic, error: Exception, limits: RetryLimits):  # type: ignore[no-untyped-def]
    """Two records of one account, the handler raising `error` on the first every time: once the
    second is handled, the first's dead-letter reason and how many attempts it got."""
    account = str(uuid.uuid4())
    failing, after = registered(account, 0), registered(account, 1)
    attempts = defaultdict(int)

    def fails_on_the_first(conn, event, data):  # type: ignore[no-untyped-def]
        attempts[event.id] += 1
        if event.id == failing.id:
            raise error
        record_handled(conn, event, data)

    send_raw(infra, topic, account, [failing.to_json().encode(), after.to_json().encode()])
    gave_up: list[tuple[str, str]] = []
    consumer = consumer_for(
        infra, pool, topic, fails_on_the_first, limits=limits, on_give_up=lambda *args: gave_up.append(args)
    )
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(consumer.group))
    run_until_handled(consumer, pool, account, after.id)
    assert handled_ids(pool, account) == [after.id]
    [reason] = dead_letter_reasons(dead_letters, 1)
    assert gave_up == [(failing.id, reason.decode())], "the service is told it was given up"
    return reason, attempts[failing.id]


def test_a_poison_record_is_dead_lettered_after_bounded_retries_and_its_partition_moves_on(
    infra, scratch_pool, topic
):
    error = KeyError("the handler chokes on this record")
    reason, attempts = dead_letter_of_the_first_of_two(
        infra, scratch_pool, topic, error, RetryLimits(unexpected_attempts=3)
    )
    assert attempts == 3
    assert b"unexpected error, 3 attempt(s): KeyError" in reason


def test_a_transient_error_that_never_passes_is_dead_lettered_after_the_time_limit(
    infra, scratch_pool, topic
):
    error = TransientError("SMTP 451 try later")
    reason, _ = dead_letter_of_the_first_of_two(
        infra, scratch_pool, topic, error, RetryLimits(transient_seconds=2)
    )
    assert b"still failing after" in reason and b"TransientError: SMTP 451 try later" in reason


def test_an_account_deletion_is_never_dead_lettered_for_a_passing_failure(infra, scratch_pool, topic):
    """Dead-lettered, an erasure is lost with its letter once the dead-letter topic's retention is over,
    and the person's data stays for good: AccountDeleted waits out the database however long it is down
    (a time limit of 0 gives up on anything else at the first failure)."""
    account = str(uuid.uuid4())
    deleted = new_event(
        "AccountDeleted",
        source="/identity",
        subject=account,
        data={"account_id": account, "deleted_at": "2026-11-27T10:00:00+00:00"},
    )
    attempts: list[str] = []

    def database_down_twice(conn, event, data):  # type: ignore[no-untyped-def]
        attempts.append(event.id)
        if len(attempts) <= 2:
            raise psycopg.OperationalError("connection refused")
        record_handled(conn, event, data)

    send_raw(infra, topic, account, [deleted.to_json().encode()])
    consumer = consumer_for(
        infra, scratch_pool, topic, database_down_twice, limits=RetryLimits(transient_seconds=0),
        event_type="AccountDeleted",
    )  # fmt: skip
    run_until_handled(consumer, scratch_pool, account, deleted.id)
    assert attempts == [deleted.id] * 3


def padded(account_id: str, sequence: int, record_bytes: int):  # type: ignore[no-untyped-def]
    """An event whose record value is `record_bytes` long (the padding is a field readers ignore)."""
    event = registered(account_id, sequence)
    event.data["padding"] = ""
    event.data["padding"] = "x" * (record_bytes - len(event.to_json().encode()))
    return event


@pytest.mark.parametrize(
    ("record_bytes", "value_kept"),
    [(999_800, True), (1_048_300, False)],
    ids=["as-large-as-a-relay-sends", "as-large-as-the-broker-takes"],
)
def test_a_large_record_that_fails_for_good_is_dead_lettered_and_its_partition_moves_on(
    infra, scratch_pool, topic, record_bytes, value_kept
):
    """The dead letter adds headers to the record: still a letter, never a partition held for good."""
    account = str(uuid.uuid4())
    failing, after = padded(account, 0, record_bytes), registered(account, 1)

    def refuses_the_first(conn, event, data):  # type: ignore[no-untyped-def]
        if event.id == failing.id:
            raise PermanentError("SMTP 550 mailbox unavailable")
        record_handled(conn, event, data)

    producer = KafkaProducer(bootstrap_servers=infra.kafka, max_request_size=1_048_576)
    for event in (failing, after):
        producer.send(topic, key=account.encode(), value=event.to_json().encode())
    producer.flush()
    producer.close()
    consumer = consumer_for(
        infra, scratch_pool, topic, refuses_the_first, limits=RetryLimits(transient_seconds=2)
    )
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(consumer.group))
    run_until_handled(consumer, scratch_pool, account, after.id)
    [reason] = dead_letter_reasons(dead_letters, 1)
    [letter] = dead_letters.records
    assert b"SMTP 550" in reason
    assert dict(letter.headers)["dlq.original.offset"]
    assert (letter.value == failing.to_json().encode()) is value_kept
    assert ("dlq.value.left-out" in dict(letter.headers)) is not value_kept
    replayed = dlq.replay(infra.kafka, consumer.group)
    assert (replayed.replayed, replayed.skipped) == ((1, 0) if value_kept else (0, 1))


class DeferredWork:
    """Handlers that leave their work pending, done by `finish_batch` as the mailer's sending is;
    `fail` says what the work of an event raises at each attempt (None: it passes)."""

    def __init__(self, fail) -> None:  # type: ignore[no-untyped-def]
        self.fail = fail
        self.pending: list = []  # type: ignore[type-arg]
        self.attempts: defaultdict[str, int] = defaultdict(int)
        self.batches = 0

    def handler(self, conn, event, data):  # type: ignore[no-untyped-def]
        future: Future[None] = Future()
        self.pending.append((event, data, future))
        return future

    def finish_batch(self, pool: ConnectionPool) -> None:
        self.batches += 1
        pending, self.pending = self.pending, []
        for event, data, future in pending:
            self.attempts[event.id] += 1
            error = self.fail(event, self.attempts[event.id])
            if error is not None:
                future.set_exception(error)
                continue
            with pool.connection() as conn:
                record_handled(conn, event, data)
            future.set_result(None)


def deferring_consumer(infra: Infra, pool: ConnectionPool, topic: str, work: DeferredWork) -> EventConsumer:
    """A consumer without the inbox whose handler defers its work to `work.finish_batch`."""
    return consumer_for(
        infra, pool, topic, work.handler, inbox=False, finish_batch=lambda: work.finish_batch(pool)
    )


def test_work_left_pending_is_done_before_the_offsets_are_committed_and_a_failure_retried(
    infra, scratch_pool, topic
):
    account = str(uuid.uuid4())
    events = [registered(account, sequence) for sequence in range(4)]
    flaky = events[1].id
    work = DeferredWork(
        lambda event, attempt: TransientError("451") if event.id == flaky and attempt == 1 else None
    )
    send_to_partition(infra, topic, 0, events)
    consumer = deferring_consumer(infra, scratch_pool, topic, work)
    with running(consumer.run):
        wait_for(
            lambda: committed_offsets(infra, consumer.group, topic) == {0: 4}, timeout=30, what="offsets"
        )
    assert set(handled_ids(scratch_pool, account)) == {event.id for event in events}
    assert work.attempts[flaky] == 2, "retried from the record whose work failed"
    assert work.attempts[events[0].id] == 1, "the work before it was not redone"


def test_pending_work_that_fails_for_good_is_dead_lettered_and_its_partition_moves_on(
    infra, scratch_pool, topic
):
    account = str(uuid.uuid4())
    poison, after = registered(account, 0), registered(account, 1)
    work = DeferredWork(
        lambda event, attempt: PermanentError("550 no such user") if event.id == poison.id else None
    )
    send_to_partition(infra, topic, 0, [poison, after])
    consumer = deferring_consumer(infra, scratch_pool, topic, work)
    dead_letters = TopicReader(infra.kafka, dead_letter_topic(consumer.group))
    run_until_handled(consumer, scratch_pool, account, after.id)
    [reason] = dead_letter_reasons(dead_letters, 1)
    assert reason == b"PermanentError: 550 no such user"
    assert work.attempts[poison.id] == 1
    assert handled_ids(scratch_pool, account) == [after.id]


def test_records_after_a_dead_lettered_one_in_the_same_batch_are_handled(infra, scratch_pool, topic):
    """The partition stops at the record that failed; once it is dead-lettered the rest come again."""
    account = str(uuid.uuid4())
    events = [registered(account, sequence) for sequence in range(5)]
    poison = events[1].id

    def fails_on_one(conn, event, data):  # type: ignore[no-untyped-def]
        if event.id == poison:
            raise RuntimeError("a bug this record triggers")
        record_handled(conn, event, data)

    send_to_partition(infra, topic, 0, events)
    consumer = consumer_for(
        infra, scratch_pool, topic, fails_on_one, limits=RetryLimits(unexpected_attempts=1)
    )
    run_until_handled(consumer, scratch_pool, account, events[-1].id)
    assert sorted(handled_ids(scratch_pool, account)) == sorted(
        event.id for event in events if event.id != poison
    )


def registered_with_padding(account_id: str, sequence: int, padding: int):  # type: ignore[no-untyped-def]
    event = registered(account_id, sequence)
    event.data["email"] = f"{'x' * padding}@example.org"
    return event


def published_sequences(reader: TopicReader, account: str) -> list[int]:
    return [event["data"]["sequence"] for event in reader.events() if event["subject"] == account]


def test_a_row_kafka_refuses_is_parked_holding_back_its_key_and_replayed_in_order(
    infra, scratch_db, scratch_pool, topic, capsys
):
    held, other = str(uuid.uuid4()), str(uuid.uuid4())
    with scratch_pool.connection() as conn, conn.transaction():
        outbox.enqueue(conn, topic, registered(held, 0))
        outbox.enqueue(conn, topic, registered_with_padding(held, 1, padding=3000))  # over the limit below
        outbox.enqueue(conn, topic, registered(held, 2))
        outbox.enqueue(conn, topic, registered(other, 0))
    reader = TopicReader(infra.kafka, topic)
    strict = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay-strict", max_record_bytes=2000)
    with running(strict.run):
        reader.read_until(
            lambda _: published_sequences(reader, other) == [0], timeout=30, what="the other key"
        )
        with scratch_pool.connection() as conn, conn.transaction():
            outbox.enqueue(conn, topic, registered(other, 1))
        reader.read_until(
            lambda _: published_sequences(reader, other) == [0, 1], timeout=30, what="a later row"
        )
        wait_for(lambda: REGISTRY.get_sample_value("outbox_parked_rows") == 1, timeout=10, what="the gauge")
    assert published_sequences(reader, held) == [0], "a row overtook the parked one"

    dlq.main(["parked", "--database-url", scratch_db])
    listing = capsys.readouterr().out
    assert "MessageSizeTooLargeError" in listing and "1 row(s) waiting behind it" in listing
    assert "1 parked row(s)" in listing

    dlq.main(["replay-parked", "--database-url", scratch_db])
    assert "1 parked row(s) put back" in capsys.readouterr().out
    relay = OutboxRelay(scratch_db, infra.kafka, client_id="test-relay-replay")
    with closing(reader), running(relay.run):
        reader.read_until(
            lambda _: len(published_sequences(reader, held)) == 3, timeout=30, what="the replay"
        )
    assert published_sequences(reader, held) == [0, 1, 2]
    with scratch_pool.connection() as conn:
        assert [row for row in outbox.parked_rows(conn) if row.record_key == held] == []


class BrokerUnreachable:
    """A producer whose every send times out, as when no broker answers."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        pass

    def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise KafkaTimeoutError("Failed to update metadata after 10.0 secs.")

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def one_row_to_relay(scratch_pool, topic: str) -> str:  # type: ignore[no-untyped-def]
    """An event waiting in the outbox; its record key."""
    account = str(uuid.uuid4())
    with scratch_pool.connection() as conn, conn.transaction():
        outbox.enqueue(conn, topic, registered(account, 0))
    return account


def test_a_broker_outage_means_waiting_never_parking(scratch_db, scratch_pool, topic):
    account = one_row_to_relay(scratch_pool, topic)
    relay = OutboxRelay(
        scratch_db, "127.0.0.1:1", client_id="test-relay-outage", producer_factory=BrokerUnreachable
    )
    with psycopg.connect(scratch_db, autocommit=True) as conn, pytest.raises(KafkaTimeoutError):
        relay.publish_pending(conn)
    with scratch_pool.connection() as conn:
        row = conn.execute(
            "SELECT published_at, parked_at FROM outbox WHERE record_key = %s", (account,)
        ).fetchone()
    assert row == (None, None)


class TopicNotAuthorized(BrokerUnreachable):
    """A producer whose every send Kafka refuses: its user has no Write ACL on the topic."""

    def send(self, topic, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise TopicAuthorizationFailedError({topic})


def test_a_relay_kafka_does_not_authorize_stops_naming_it_and_keeps_the_rows(scratch_db, scratch_pool, topic):
    """Not retried for good as an outage: the relay stops (its process exits non-zero), rows kept."""
    account = one_row_to_relay(scratch_pool, topic)
    relay = OutboxRelay(
        scratch_db, "127.0.0.1:1", client_id="test-relay-refused", producer_factory=TopicNotAuthorized
    )
    try:
        # A relay taking the refusal for an outage would run on: stopped after 10 s, it fails here.
        with (
            stopped_after(10) as stop,
            pytest.raises(KafkaNotAuthorized, match="test-relay-refused: Kafka does not authorize"),
        ):
            relay.run(stop)
    finally:
        with scratch_pool.connection() as conn:
            row = conn.execute(
                "DELETE FROM outbox WHERE record_key = %s RETURNING published_at, parked_at", (account,)
            ).fetchone()
    assert row == (None, None)


def test_a_starting_consumer_joins_its_group_knowing_the_partitions(infra, scratch_pool, topic, caplog):
    """Its first join assigns the partitions: no empty assignment that only a rejoin, on a metadata
    change kafka-python must notice, would correct."""
    caplog.set_level(logging.WARNING, logger="kafka.coordinator.assignors")
    account = str(uuid.uuid4())
    event = registered(account, 0)
    send_to_partition(infra, topic, 0, [event])
    consumer = consumer_for(infra, scratch_pool, topic, record_handled)

    run_until_handled(consumer, scratch_pool, account, event.id)

    assert not [record for record in caplog.records if "No partition metadata" in record.getMessage()]
