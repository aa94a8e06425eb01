"""An issue's figures while it goes out, in-process against PostgreSQL and the real broker: never more
sent than recipients, however early the mailer's results come."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from accounts_common.kafka import create_producer
from newsletter.adapters import repository
from newsletter.domain.issues import delivery_id
from newsletter.service_layer.results import DeliveryResults
from tests.integration.test_newsletter_issues import create, send
from tests.support.newsletter import seed_subscribers


class ResultsBeforeTheAcknowledgement:
    """A producer whose records are all delivered, and their results counted, before the fan-out hears
    that Kafka has them: the mailer reads a record once the broker wrote it, and may be quicker than
    the acknowledgement of the batch (`on_results` is called then, with the figures as counted)."""

    def __init__(self, results: DeliveryResults, on_results: Callable[[], None], **producer: Any) -> None:
        self.producer = create_producer(**producer)
        self.results = results
        self.on_results = on_results
        self.batch: list[str] = []

    def send(self, topic: str, **record: Any) -> Any:
        self.batch.append(json.loads(record["value"])["data"]["delivery_id"])
        return self.producer.send(topic, **record)

    def flush(self, timeout: float) -> None:
        self.producer.flush(timeout=timeout)
        for delivery in self.batch:
            self.results.delivered(None, None, {"delivery_id": delivery})  # type: ignore[arg-type]
        self.results.finish_batch()
        self.batch = []
        self.on_results()

    def close(self, timeout: float) -> None:
        self.producer.close(timeout=timeout)


def test_sent_never_exceeds_recipients_when_results_come_before_kafkas_acknowledgement(
    newsletter,
    newsletter_client,
    newsletter_db,
    newsletter_editor,
    fan_out,  # noqa: F811
):
    seed_subscribers(newsletter_db, 100)
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)
    seen = []

    def figures() -> None:
        seen.append(
            newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["figures"]
        )

    def producer(bootstrap_servers: str, **options: Any) -> ResultsBeforeTheAcknowledgement:
        return ResultsBeforeTheAcknowledgement(
            DeliveryResults(newsletter), figures, bootstrap_servers=bootstrap_servers, **options
        )

    fan_out(issue_id, producer_factory=producer)
    figures()
    assert len(seen) > 2  # a figure per batch of 40, and the last
    assert [f for f in seen if f["sent"] > f["recipients"]] == []
    assert seen[-1]["sent"] == seen[-1]["recipients"] >= 100


def kept_and_counted(newsletter_db: str, issue_id: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The figures kept on the issue, and the same counted over its recipients' rows."""
    with psycopg.connect(newsletter_db) as conn:
        kept = conn.execute(
            "SELECT recipients, sent, failed, bounced FROM issues WHERE id = %s", (issue_id,)
        ).fetchone()
        counted = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE outcome = 'sent'),
                      count(*) FILTER (WHERE outcome = 'failed'), count(*) FILTER (WHERE outcome = 'bounced')
               FROM issue_recipients WHERE issue_id = %s""",
            (issue_id,),
        ).fetchone()
    assert kept is not None and counted is not None
    return tuple(kept), tuple(counted)


def test_the_figures_kept_on_an_issue_follow_every_change_of_its_recipients(
    newsletter_client,
    newsletter_db,
    newsletter_pool,
    newsletter_editor,
    fan_out,  # noqa: F811
):
    """The issue list reads each issue's figures off the issue (one row each, whatever its list's size):
    they must be what a count of its recipients would say after a batch replayed, results replayed,
    a bounce after a delivery, a failure after it (no downgrade), and a row removed."""
    readers = seed_subscribers(newsletter_db, 5)
    issue_id = create(newsletter_client, newsletter_editor)["id"]
    send(newsletter_client, newsletter_editor, issue_id)
    fan_out(issue_id)
    issue = uuid.UUID(issue_id)
    ours = [delivery_id(issue, uuid.UUID(reader)) for reader in readers]
    with newsletter_pool.connection() as conn:
        repository.add_recipients(
            conn, issue, [(d, uuid.UUID(r)) for d, r in zip(ours, readers, strict=True)]
        )
        for _ in range(2):
            repository.record_outcomes(conn, [*ours[:4], uuid.uuid4()], "sent")
        repository.record_outcome(conn, ours[0], "bounced")
        repository.record_outcome(conn, ours[1], "failed")  # no downgrade: still sent
        repository.record_outcome(conn, ours[4], "failed")
        conn.execute("DELETE FROM issue_recipients WHERE delivery_id = %s", (ours[3],))
    kept, counted = kept_and_counted(newsletter_db, issue_id)
    assert kept == counted
    assert kept[1:] == (2, 1, 1)
    figures = newsletter_client.get(f"/v1/issues/{issue_id}", headers=newsletter_editor).json["figures"]
    assert (figures["recipients"], figures["sent"], figures["failed"], figures["bounced"]) == kept
