"""The fan-out worker: one NewsletterDeliveryRequested per subscriber of each issue, resumable.

Why not the outbox: an issue to 10,000 subscribers would be 10,000 rows written, read back and
marked one by one. Instead the worker reads subscribers in keyset-paginated batches (id order),
produces a batch with the idempotent producer, waits for Kafka's acknowledgements, and only then
records the batch's last subscriber id as the issue's high-water mark. A worker killed mid-batch
resumes after the last recorded mark: no subscriber is skipped, and the records of the replayed
batch that had already reached Kafka come again with the same event id (derived from the issue and
the account), which the mailer's delivery log turns into one email.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from accounts_common.events import CloudEvent
from accounts_common.events.topics import NEWSLETTER_DELIVERIES
from accounts_common.kafka import create_producer
from accounts_common.leader import LeadingProducer
from newsletter.adapters import repository
from newsletter.domain.issues import Issue, Recipient, delivery_request, unsubscribe_url
from newsletter.domain.unsubscribe import unsubscribe_token

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "newsletter_issues"
FANOUT_LOCK_KEY = 0x6E6C666F  # one worker fans out at a time; the others stand by
SEND_TIMEOUT_S = 30.0
HEADERS = CloudEvent.content_headers()

REQUESTED = Counter("newsletter_delivery_requests_total", "Delivery requests acknowledged by Kafka")
FAILURES = Counter("newsletter_fanout_failures_total", "Fan-out batches that failed and will be retried")


class FanOutWorker(LeadingProducer):
    """Fans out unfinished issues, oldest first, waking on NOTIFY and polling as a fallback."""

    lock_key = FANOUT_LOCK_KEY
    failures = FAILURES

    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        *,
        portal_url: str,
        unsubscribe_key: bytes,
        topic: str = NEWSLETTER_DELIVERIES,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        super().__init__(
            database_url,
            bootstrap_servers,
            client_id="newsletter-fanout",
            poll_interval=poll_interval,
            producer_factory=producer_factory,
        )
        self.portal_url = portal_url
        self.unsubscribe_key = unsubscribe_key
        self.topic = topic
        self.batch_size = batch_size

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        while not stop.is_set():
            issue = repository.oldest_unfinished_issue(conn)
            if issue is None:
                for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                    pass
                continue
            self.fan_out(conn, issue, stop)

    def fan_out(self, conn: psycopg.Connection, issue: Issue, stop: threading.Event) -> None:
        """Request the issue's remaining deliveries batch by batch, then mark it complete."""
        log.info(
            "fanning out issue %s from subscriber %d (%d requested)",
            issue.id,
            issue.high_water,
            issue.requested,
        )
        high_water = issue.high_water
        while not stop.is_set():
            recipients = repository.next_recipients(conn, issue, high_water, self.batch_size)
            if not recipients:
                repository.complete_issue(conn, issue.id)
                log.info("issue %s fanned out", issue.id)
                return
            self._produce(issue, recipients)
            high_water = recipients[-1].subscriber_id
            repository.record_progress(conn, issue.id, high_water, len(recipients))
            REQUESTED.inc(len(recipients))

    def _produce(self, issue: Issue, recipients: list[Recipient]) -> None:
        """Send the batch and wait until Kafka acknowledged every record of it."""
        producer = self.producer()
        time = datetime.now(UTC).isoformat()
        futures = []
        for recipient in recipients:
            token = unsubscribe_token(self.unsubscribe_key, recipient.account_id)
            event = delivery_request(
                issue, recipient, unsubscribe_url(self.portal_url, token, recipient), time
            )
            futures.append(
                producer.send(
                    self.topic, key=event.subject.encode(), value=event.to_json().encode(), headers=HEADERS
                )
            )
        producer.flush(timeout=SEND_TIMEOUT_S)
        for future in futures:
            if not future.succeeded():
                failure = future.exception
                raise failure if isinstance(failure, KafkaError) else KafkaError(str(failure))
