"""What the newsletter does with the mailer's delivery results: its issues' figures, and bounces."""

from typing import Any

import psycopg

from accounts_common.events import CloudEvent
from accounts_common.inbox import Handler
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.subscriptions import end_for_bounce

# A delivered mail counted twice is counted once (an outcome is never set to itself or downgraded):
# no inbox row is needed. A failure may end a subscription, which publishes an event: it keeps one.
IDEMPOTENT_RESULTS = frozenset({"EmailDelivered"})


def delivery_result_handlers(newsletter: Newsletter) -> dict[str, Handler]:
    """EmailDelivered and EmailFailed count in their issue's figures; a hard failure (a bounce) of any
    mail to a subscriber's current address ends the subscription with reason `bounce`."""

    def delivered(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        repository.record_outcome(conn, data["delivery_id"], "sent")

    def failed(conn: psycopg.Connection, event: CloudEvent, data: dict[str, Any]) -> None:
        hard = data["failure_class"] == "hard"
        repository.record_outcome(conn, data["delivery_id"], "bounced" if hard else "failed")
        if hard and data.get("account_id"):
            end_for_bounce(newsletter, conn, data["account_id"], data["email"])

    return {"EmailDelivered": delivered, "EmailFailed": failed}
