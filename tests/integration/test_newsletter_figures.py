"""An issue's figures while it goes out, in-process against PostgreSQL and the real broker: never more
sent than recipients, however early the mailer's results come."""

import json
from collections.abc import Callable
from typing import Any

from accounts_common.kafka import create_producer
from newsletter.service_layer.results import DeliveryResults
from tests.integration.test_newsletter_issues import (  # noqa: F401 # the fixture shared with it
    create,
    deliveries_topic,
    send,
)
from tests.integration.test_newsletter_resubscription import fan_out_now
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
    deliveries_topic,  # noqa: F811
    infra,
    newsletter_editor,
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

    fan_out_now(newsletter, infra.kafka, deliveries_topic, issue_id, producer_factory=producer)
    figures()
    assert len(seen) > 2  # a figure per batch of 40, and the last
    assert [f for f in seen if f["sent"] > f["recipients"]] == []
    assert seen[-1]["sent"] == seen[-1]["recipients"] >= 100
