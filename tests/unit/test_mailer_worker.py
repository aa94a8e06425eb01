"""The mailer worker's consumer: a polled batch must end well inside the group's poll interval, or
the group gives its partitions to another worker, which sends the rows still 'sending' again."""

import pytest
from prometheus_client import REGISTRY

from accounts_common import kafka
from accounts_common.db import POOL_WAIT_S, create_pool
from accounts_common.events.schemas import EMAIL_KINDS
from mailer.adapters.smtp import FINAL_REPLY_TIMEOUT_S
from mailer.entrypoints import cli
from mailer.service_layer import metrics


@pytest.mark.parametrize("sends_per_second", [0.0, 0.01, 0.5, 1.0, 8.0, 10_000.0])
def test_a_batch_at_the_send_limit_with_one_slow_final_reply_ends_inside_the_poll_interval(sends_per_second):
    records = cli.max_poll_records(sends_per_second)
    sending = records / sends_per_second if sends_per_second else 1.0  # unlimited: about half a second
    assert 1 <= records <= cli.MAX_POLL_RECORDS
    assert sending + FINAL_REPLY_TIMEOUT_S + 60 < cli.poll_interval_ms(sends_per_second) / 1000


def test_one_send_per_second_polls_a_minute_of_records_not_500():
    assert cli.max_poll_records(1.0) == 60
    assert cli.max_poll_records(0.0) == 500


def test_a_consumer_asks_kafka_for_the_poll_interval_it_is_given(monkeypatch):
    created = {}
    monkeypatch.setattr(kafka, "GroupMember", lambda *topics, **config: created.update(config))
    kafka.create_consumer(
        "kafka:9092", group_id="mailer", topics=("t",), max_poll_records=60, max_poll_interval_ms=123_000
    )
    assert (created["max_poll_records"], created["max_poll_interval_ms"]) == (60, 123_000)
    assert created["enable_auto_commit"] is False


def test_every_kind_of_mail_has_its_counters_from_the_start():
    """An alert on increase() sees the first failure of a kind only when its series started at 0."""
    metrics.export_every_kind()
    for kind in EMAIL_KINDS:
        for name in ("sent", "retried", "skipped", "failed"):
            value = REGISTRY.get_sample_value(f"mailer_emails_{name}_total", {"kind": kind})
            assert value is not None, (name, kind)


def test_the_workers_pool_gives_up_a_checkout_as_soon_as_every_other_pool():
    """During a database outage a SIGTERM waits for the checkout under way: psycopg_pool's default
    would hold the worker 30 s, where every other process of the project stops in 5."""
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    with cli.worker_pool(unreachable, 1) as worker, create_pool(unreachable, name="other") as other:
        assert worker.timeout == other.timeout == POOL_WAIT_S
