"""Transactional outbox: write events with the state change; the relay (accounts_common.relay)
publishes them to Kafka afterwards. Also the parked rows, and the age of what waits."""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.events import CloudEvent, validate_data
from accounts_common.operations import ScrapeGauge

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox"
STATE_CONTENT_TYPE = "application/json"
# Headers of a state record: the event it follows, and that event's offset (same partition number).
FOLLOWS_EVENT_ID_HEADER = "follows-event-id"
FOLLOWS_EVENT_OFFSET_HEADER = "follows-event-offset"
OLDEST_PENDING_AGE = "outbox_oldest_pending_age_seconds"


def enqueue(conn: psycopg.Connection, topic: str, event: CloudEvent) -> None:
    """Add the event to the outbox inside the caller's transaction (validated against its schema)."""
    enqueue_all(conn, topic, [event])


def enqueue_all(conn: psycopg.Connection, topic: str, events: Sequence[CloudEvent]) -> None:
    """Add the events to the outbox inside the caller's transaction, in this order, each validated
    against its schema: one round trip for them all (psycopg pipelines an executemany)."""
    for event in events:
        validate_data(event.type, event.data)
    with conn.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO outbox (event_id, topic, record_key, record_value)
               VALUES (%s, %s, %s, %s)""",
            [(event.id, topic, event.subject, event.to_json()) for event in events],
        )


def enqueue_state(
    conn: psycopg.Connection, topic: str, key: str, value: dict[str, Any] | None, follows: CloudEvent
) -> None:
    """Add the latest state under `key` (None: a tombstone) to the outbox, after the event `follows`.

    The relay publishes it once that event is on Kafka, to the event's partition number, in the
    order of the events there, with the event's id and offset in headers.
    """
    record_value = None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        """INSERT INTO outbox (event_id, topic, record_key, record_value, follows_event_id)
           VALUES (%s, %s, %s, %s, %s)""",
        (uuid.uuid4(), topic, key, record_value, follows.id),
    )


@dataclass(frozen=True)
class PendingRecord:
    id: int
    topic: str
    record_key: str
    record_value: str | None
    follows_event_id: uuid.UUID | None = None
    partition: int | None = None
    follows_offset: int | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        """An event's CloudEvents content type; a state record's content type and the event it follows."""
        if self.follows_event_id is None:
            return CloudEvent.content_headers()
        return [
            ("content-type", STATE_CONTENT_TYPE.encode()),
            (FOLLOWS_EVENT_ID_HEADER, str(self.follows_event_id).encode()),
            (FOLLOWS_EVENT_OFFSET_HEADER, str(self.follows_offset).encode()),
        ]


# A published event whose state record has not gone out yet: the state is published with the event's
# position, which only the event's row holds, so housekeeping keeps that row until then.
FOLLOWED_BY_A_WAITING_STATE = """EXISTS (SELECT 1 FROM outbox state
    WHERE state.follows_event_id = outbox.event_id AND state.published_at IS NULL)"""
# A row behind a parked row of its topic and key waits until that one is replayed.
NOT_BEHIND_A_PARKED_ROW = """NOT EXISTS (SELECT 1 FROM outbox parked WHERE parked.parked_at IS NOT NULL
    AND parked.topic = {row}.topic AND parked.record_key = {row}.record_key AND parked.id < {row}.id)"""
# A row that waits for an operator, not the relay: behind a parked row, or the state record of an
# event that is parked or behind one.
NOT_HELD_BACK = f"""{NOT_BEHIND_A_PARKED_ROW.format(row="o")}
    AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.event_id = o.follows_event_id
        AND (e.parked_at IS NOT NULL OR NOT ({NOT_BEHIND_A_PARKED_ROW.format(row="e")})))"""
# One round trip for both kinds of pending row: the events in id order, then the state records
# waiting for their event's position, per partition in the events' order.
PENDING = f"""SELECT id, topic, record_key, record_value, follows_event_id, kafka_partition, kafka_offset
    FROM ((SELECT id, topic, record_key, record_value, NULL::uuid AS follows_event_id,
                  NULL::int AS kafka_partition, NULL::bigint AS kafka_offset, id AS event_order
           FROM outbox
           WHERE published_at IS NULL AND parked_at IS NULL AND follows_event_id IS NULL
             AND {NOT_BEHIND_A_PARKED_ROW.format(row="outbox")}
           ORDER BY id LIMIT %(limit)s)
          UNION ALL
          (SELECT state.id, state.topic, state.record_key, state.record_value, state.follows_event_id,
                  event.kafka_partition, event.kafka_offset, NULL
           FROM outbox state JOIN outbox event ON event.event_id = state.follows_event_id
           WHERE state.published_at IS NULL AND state.parked_at IS NULL AND event.kafka_offset IS NOT NULL
             AND {NOT_BEHIND_A_PARKED_ROW.format(row="state")}
           ORDER BY event.kafka_partition, event.kafka_offset LIMIT %(limit)s)) AS pending
    ORDER BY event_order NULLS LAST, kafka_partition, kafka_offset"""


@dataclass(frozen=True)
class ParkedRow:
    """An outbox row parked because Kafka refused it for good, with the reason."""

    id: int
    event_id: str
    topic: str
    record_key: str
    size: int
    parked_at: str
    park_reason: str
    waiting_behind: int


def park(conn: psycopg.Connection, row_id: int, reason: str) -> None:
    """Set the row aside with its reason; the later rows of its key wait until it is replayed."""
    conn.execute(
        "UPDATE outbox SET parked_at = now(), park_reason = %s WHERE id = %s", (reason[:2000], row_id)
    )
    log.error("outbox relay: parked row %s: %s", row_id, reason)


def parked_rows(conn: psycopg.Connection) -> list[ParkedRow]:
    """The parked rows, oldest first, with how many rows wait behind each: the later rows of its topic
    and key, and the state records of those events (rows of its key on other topics flow)."""
    rows = conn.execute(
        """SELECT p.id, p.event_id::text, p.topic, p.record_key, coalesce(octet_length(p.record_value), 0),
                  p.parked_at::text, p.park_reason,
                  (SELECT count(*) FROM outbox w WHERE w.id > p.id
                      AND w.published_at IS NULL AND w.parked_at IS NULL
                      AND ((w.topic = p.topic AND w.record_key = p.record_key)
                           OR w.follows_event_id IN (SELECT e.event_id FROM outbox e WHERE e.id >= p.id
                               AND e.topic = p.topic AND e.record_key = p.record_key)))
           FROM outbox p WHERE p.parked_at IS NOT NULL ORDER BY p.id"""
    ).fetchall()
    return [ParkedRow(*row) for row in rows]


def replay_parked(conn: psycopg.Connection, ids: list[int] | None = None) -> int:
    """Put parked rows (all, or those ids) back in the queue, once the cause is fixed; how many."""
    cursor = conn.execute(
        """UPDATE outbox SET parked_at = NULL, park_reason = NULL
           WHERE parked_at IS NOT NULL AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))""",
        {"ids": ids},
    )
    conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return cursor.rowcount


def oldest_pending_age_gauge(pool: ConnectionPool) -> dict[str, ScrapeGauge]:
    """For a service's /metrics: how long the oldest unpublished event has waited (0: none waits).

    Read from the database on each scrape, so it keeps growing when no relay runs at all. Parked
    rows, and the rows they hold back, are left out: outbox_parked_rows warns about them, and they
    wait for an operator, not for the relay this gauge's alert sends people to.
    """

    def read() -> float:
        with pool.connection() as conn:
            row = conn.execute(
                f"""SELECT extract(epoch FROM now() - o.created_at) FROM outbox o
                    WHERE o.published_at IS NULL AND o.parked_at IS NULL AND {NOT_HELD_BACK}
                    ORDER BY o.id LIMIT 1"""
            ).fetchone()
        return float(row[0]) if row else 0.0

    return {OLDEST_PENDING_AGE: ScrapeGauge("Seconds the oldest unpublished outbox event has waited", read)}
