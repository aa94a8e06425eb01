"""After PostgreSQL is restored to a point in time, the accounts deleted since then are back in identity
(the person's email, password, roles), though their AccountDeleted is on Kafka and every other service
applied it. `identity erase-again --since <restore point>` reads those deletions back from
identity.account-events.v1 and erases again each account the restore brought back, announcing it anew
(AccountDeleted and its tombstone): the mailer, whose consumer group is not rewound after a restore,
erases again what its own database got back."""

from collections.abc import Iterable
from datetime import datetime
from time import monotonic
from uuid import UUID

from kafka.errors import KafkaTimeoutError

from accounts_common.events import InvalidEvent, parse_event
from accounts_common.kafka import create_reader, position_of, topic_partitions
from identity.adapters import account_store
from identity.bootstrap import Identity
from identity.service_layer import sessions
from identity.service_layer.codes import publish_deleted

POLL_TIMEOUT_MS = 500
IDLE_TIMEOUT_S = 60.0  # no record for this long before the end: Kafka is gone (poll() says nothing)


def deleted_since(bootstrap_servers: str, topic: str, since: datetime) -> set[UUID]:
    """The accounts of the AccountDeleted events written to `topic` at or after `since`, up to its end
    now. KafkaTimeoutError when no record comes for IDLE_TIMEOUT_S before that end."""
    consumer = create_reader(bootstrap_servers, client_id="identity-erase-again")
    try:
        partitions = topic_partitions(consumer, topic)
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        starts = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        for tp in partitions:
            consumer.seek(tp, starts[tp].offset if starts.get(tp) else ends[tp])
        remaining = {tp for tp in partitions if position_of(consumer, tp) < ends[tp]}
        deleted: set[UUID] = set()
        last_record = monotonic()
        while remaining:
            batch = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
            if batch:
                last_record = monotonic()
            elif monotonic() - last_record >= IDLE_TIMEOUT_S:
                raise KafkaTimeoutError(f"no record of {topic} for {IDLE_TIMEOUT_S:g} s before its end")
            for tp, records in batch.items():
                for record in records:
                    account_id = _deleted_account(record.value)
                    if account_id is not None and record.offset < ends[tp]:
                        deleted.add(account_id)
                if position_of(consumer, tp) >= ends[tp]:
                    remaining.discard(tp)
        return deleted
    finally:
        consumer.close()


def _deleted_account(value: bytes | None) -> UUID | None:
    try:
        event = parse_event(value)
        return UUID(event.data["account_id"]) if event.type == "AccountDeleted" else None
    except (InvalidEvent, KeyError, TypeError, ValueError):
        return None


def erase_again(app: Identity, account_ids: Iterable[UUID]) -> list[UUID]:
    """Erase each of these accounts that exists (a restore brought it back), as its owner's deletion did;
    the ids of those erased."""
    erased = []
    for account_id in sorted(account_ids):
        with app.pool.connection() as conn, conn.transaction():
            account = account_store.find_account(conn, account_id, lock=True)
            if account is None:
                continue
            account_store.delete_account(conn, account.id)
            sessions.forget_login_failures(app, conn, account.email)
            publish_deleted(app, conn, account.id)
        erased.append(account_id)
    return erased
