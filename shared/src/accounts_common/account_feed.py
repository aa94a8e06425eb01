"""A late consumer's start: every live account's latest state, then the account events after it.

How the positions match exactly: identity writes each record of the compacted
identity.accounts.v1 in the database transaction of the event that changed the account. Its
relay publishes that state record only once the event is on identity.account-events.v1, to the
same partition number, in the order of the events on that partition, with the event's offset in
the `follows-event-offset` header. So the state records of partition p, read up to any point,
reflect exactly the events of partition p up to the highest offset they name and none after it:
following partition p of the events from that offset + 1 misses nothing and counts nothing twice.

One case comes again: once a deletion's tombstone has been compacted away (delete.retention.ms),
events of that deleted account before its AccountDeleted may be followed again, always ending
with that AccountDeleted. Apply AccountDeleted by erasing, and the result is the same.
"""

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from uuid import UUID

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaTimeoutError
from marshmallow import ValidationError

from accounts_common.events import CloudEvent, InvalidEvent, parse_event, validate_data
from accounts_common.events.schemas import EVENT_SCHEMAS, AccountState
from accounts_common.events.topics import ACCOUNT_EVENTS, ACCOUNT_STATE
from accounts_common.kafka import REFUSED, create_reader, not_authorized, position_of, topic_partitions
from accounts_common.outbox import FOLLOWS_EVENT_OFFSET_HEADER

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 500
# How long a snapshot waits for the next record before it gives up: kafka-python's poll() raises
# nothing when the broker goes away, it answers nothing, so without a limit a start would wait forever.
# Far above a healthy broker's pause (a leader election takes seconds), far below "forever".
SNAPSHOT_IDLE_TIMEOUT_S = 60.0
STATE_SCHEMA = AccountState()  # one instance: making a marshmallow schema costs more than a load


@dataclass(frozen=True)
class Account:
    """One live account as identity.accounts.v1 last described it."""

    account_id: UUID
    email: str
    verified: bool
    verified_at: datetime | None
    created_at: datetime
    version: int


@dataclass(frozen=True)
class Snapshot:
    """The live accounts by id, and where to follow each partition of the events from."""

    accounts: dict[UUID, Account]
    positions: dict[int, int]


@dataclass(frozen=True)
class FollowedEvent:
    """An account event and the position to resume from once it is applied."""

    event: CloudEvent
    partition: int
    next_offset: int


class AccountFeed:
    """Reads identity's compacted account state, then follows the account events."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "",
        idle_timeout_s: float = SNAPSHOT_IDLE_TIMEOUT_S,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.idle_timeout_s = idle_timeout_s
        self.state_topic = topic_prefix + ACCOUNT_STATE
        self.events_topic = topic_prefix + ACCOUNT_EVENTS

    def snapshot(self) -> Snapshot:
        """Read the compacted topic to its end offsets; the live accounts and the events' positions.
        Kafka refusing the feed's login or ACLs: KafkaNotAuthorized, logged as an error; no record for
        `idle_timeout_s` before the end (Kafka gone mid-read): KafkaTimeoutError."""
        with refusals_named():
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        consumer = self._consumer()
        try:
            partitions = topic_partitions(consumer, self.state_topic)
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            ends = consumer.end_offsets(partitions)
            accounts: dict[UUID, Account] = {}
            followed: dict[int, int] = {}
            # The record before the end is in the active segment, never compacted: each position gets there.
            remaining = {tp for tp in partitions if position_of(consumer, tp) < ends[tp]}
            last_record = monotonic()
            while remaining:
                batch = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                if batch:
                    last_record = monotonic()
                elif monotonic() - last_record >= self.idle_timeout_s:
                    raise KafkaTimeoutError(
                        f"account feed: no record of {self.state_topic} for {self.idle_timeout_s:g} s with "
                        f"{len(remaining)} partition(s) short of their end: is Kafka reachable?"
                    )
                for tp, records in batch.items():
                    for record in records:
                        if record.offset < ends[tp] and _apply_state(accounts, record):
                            followed[tp.partition] = max(followed.get(tp.partition, -1), _followed(record))
                    if position_of(consumer, tp) >= ends[tp]:
                        remaining.discard(tp)
            beginnings = consumer.beginning_offsets(topic_partitions(consumer, self.events_topic))
            positions = {
                tp.partition: followed[tp.partition] + 1 if tp.partition in followed else beginning
                for tp, beginning in beginnings.items()
            }
            return Snapshot(accounts, positions)
        finally:
            consumer.close()

    def follow(
        self, positions: dict[int, int], stop: threading.Event | None = None
    ) -> Iterator[FollowedEvent]:
        """The account events from `positions` on (a partition without one: from its beginning),
        until `stop` is set. Records that are not valid events are logged and skipped; Kafka refusing
        the feed's login or ACLs is KafkaNotAuthorized, logged as an error."""
        with refusals_named():
            yield from self._follow(positions, stop)

    def _follow(self, positions: dict[int, int], stop: threading.Event | None) -> Iterator[FollowedEvent]:
        consumer = self._consumer()
        try:
            partitions = topic_partitions(consumer, self.events_topic)
            consumer.assign(partitions)
            for tp in partitions:
                if tp.partition in positions:
                    consumer.seek(tp, positions[tp.partition])
                else:
                    consumer.seek_to_beginning(tp)
            while stop is None or not stop.is_set():
                for tp, records in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).items():
                    for record in records:
                        event = _valid_event(record)
                        if event is not None:
                            yield FollowedEvent(event, tp.partition, record.offset + 1)
        finally:
            consumer.close()

    def _consumer(self) -> KafkaConsumer:
        return create_reader(self.bootstrap_servers, client_id="accounts-bootstrap")


@contextmanager
def refusals_named() -> Iterator[None]:
    """Kafka refusing the feed's login or an ACL: a setting to fix, not an outage to wait out."""
    try:
        yield
    except REFUSED as error:
        refused = not_authorized("account feed", error)
        log.error("%s", refused)
        raise refused from None


def _apply_state(accounts: dict[UUID, Account], record: ConsumerRecord) -> bool:
    """Take the record's state for its account (a tombstone removes it); False for an invalid record."""
    try:
        _followed(record)
        account_id = UUID((record.key or b"").decode())
        if record.value is None:
            accounts.pop(account_id, None)
        else:
            accounts[account_id] = Account(**STATE_SCHEMA.load(json.loads(record.value)))
        return True
    except (KeyError, ValueError, ValidationError) as error:
        log.warning("skipping invalid account state at %s[%d]@%d: %r", *_where(record), error)
        return False


def _followed(record: ConsumerRecord) -> int:
    """The offset of the event a state record follows, from its header (KeyError, ValueError if none)."""
    return int(dict(record.headers or [])[FOLLOWS_EVENT_OFFSET_HEADER])


def _valid_event(record: ConsumerRecord) -> CloudEvent | None:
    try:
        event = parse_event(record.value)
        if event.type in EVENT_SCHEMAS:
            validate_data(event.type, event.data)
        return event
    except InvalidEvent as error:
        log.warning("skipping invalid event at %s[%d]@%d: %s", *_where(record), error)
        return None


def _where(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset
