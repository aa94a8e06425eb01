"""What the newsletter does with the mailer's delivery results: its issues' figures, and bounces."""

from concurrent.futures import Future
from typing import Any
from uuid import UUID

import psycopg

from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.subscriptions import end_for_bounce

# A delivered mail counted twice is counted once (an outcome is never set to itself or downgraded):
# no inbox row is needed. A failure may end a subscription, which publishes an event: it keeps one.
IDEMPOTENT_RESULTS = frozenset({"EmailDelivered"})


class DeliveryResults:
    """EmailDelivered and EmailFailed count in their issue's figures; a hard failure (a bounce) of any
    mail to a subscriber's current address ends the subscription with reason `bounce`, unless that mail
    was sent before the subscription started (the event's `sent_at`: a bounce read late).

    The EmailDelivered of one poll are counted together, in one statement at the end of the batch
    (`finish_batch`, called by the consumer before it commits their offsets): an issue's results
    come by the thousand, and one UPDATE each was most of the worker's time while an issue went out.
    """

    def __init__(self, newsletter: Newsletter) -> None:
        self.newsletter = newsletter
        self._delivered: list[tuple[UUID, Future[None]]] = []

    def handlers(self) -> dict[str, Handler]:
        return {"EmailDelivered": self.delivered, "EmailFailed": self.failed}

    def delivered(self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> Future[None]:
        counted: Future[None] = Future()
        self._delivered.append((data["delivery_id"], counted))
        return counted

    def failed(self, conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        hard = data["failure_class"] == "hard"
        # The subscription first, the figures then: an unsubscription counts on the issue after
        # ending the subscription (migration 009), and the opposite order deadlocks with it.
        if hard and data.get("account_id"):
            end_for_bounce(self.newsletter, conn, data["account_id"], data["email"], data.get("sent_at"))
        repository.record_outcome(conn, data["delivery_id"], "bounced" if hard else "failed")

    def finish_batch(self) -> None:
        """Count the batch's deliveries; on a failure each of their events is retried."""
        delivered, self._delivered = self._delivered, []
        if not delivered:
            return
        try:
            with self.newsletter.pool.connection() as conn:
                repository.record_outcomes(conn, [delivery for delivery, _ in delivered], "sent")
        except Exception as error:  # noqa: BLE001 - settled by the consumer: retried, then dead-lettered
            for _, counted in delivered:
                counted.set_exception(error)
            return
        for _, counted in delivered:
            counted.set_result(None)
