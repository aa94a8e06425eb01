"""Dead letters, written by a consumer that gives up on a record (accounts_common.dead_letter_writer),
listed and replayed by operators (`open_letters`, `replay_letter`); and `accounts-dlq`, which shows
and replays what could not be processed or published.

`replay --group G` puts a consumer group's dead letters back on their original topics. Run it
once the cause is fixed (the SMTP server accepts the address again, a bug is deployed away). The
replay reads `<group>.dlq` as its own consumer group, so each dead letter is replayed once;
consumers deduplicate by event id, so replaying one that did pass meanwhile is harmless.

`parked --service S` lists a service's outbox rows that Kafka refused for good (parked by the
relay, the later rows of their key waiting behind them); `replay-parked --service S [--id N]`
puts them back in the queue, once the cause is fixed, and the relay publishes them in order.
"""

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from accounts_common.config import add_bootstrap_servers_option, database_url
from accounts_common.dead_letter_writer import (
    DEAD_LETTER_MAX_BYTES,
    DLQ_HEADER_PREFIX,
    FAILED_AT_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
    SEND_TIMEOUT_S,
    VALUE_LEFT_OUT_HEADER,
)
from accounts_common.events import dead_letter_topic
from accounts_common.events.topics import CONSUMER_GROUPS
from accounts_common.kafka import (
    REFUSED,
    UnlistedTopic,
    create_producer,
    create_reader,
    not_authorized,
    position_of,
    topic_partitions,
)
from accounts_common.outbox import parked_rows, replay_parked

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 1000
# What was replayed before Kafka refused stays replayed (committed): a second run goes on from there.
AFTER_REFUSAL = "nothing more replayed: run it again once that is fixed"


class ReplayFailed(Exception):
    """The dead letters could not be read (no such topic to this login) or Kafka refused some letters
    of a replay (the run can simply be repeated). `replayed`: how many Kafka took back before."""

    def __init__(self, message: str, replayed: int = 0) -> None:
        super().__init__(message)
        self.replayed = replayed


@dataclass(frozen=True)
class DeadLetter:
    """One record a consumer group gave up on, as its dlq.* headers and CloudEvent describe it."""

    partition: int
    offset: int
    event_id: str
    event_type: str
    subject: str
    original_topic: str
    reason: str
    failed_at: str


@dataclass
class ReplayResult:
    """What a replay did."""

    replayed: int = 0
    skipped: int = 0


def replay(bootstrap_servers: str, group: str, *, limit: int | None = None) -> ReplayResult:
    """Re-publish the group's unreplayed dead letters (at most `limit`) to their original topics."""
    topic = dead_letter_topic(group)
    consumer, partitions = _replay_position(bootstrap_servers, topic)
    try:
        with _replay_producer(bootstrap_servers, topic) as producer:
            consumer.assign(partitions)
            return _replay_until_caught_up(consumer, producer, consumer.end_offsets(partitions), limit)
    finally:
        consumer.close(autocommit=False)


def open_letters(bootstrap_servers: str, group: str, *, limit: int = 500) -> tuple[list[DeadLetter], bool]:
    """The group's dead letters not yet replayed by `replay` (at most `limit`, oldest first); one per
    event, the latest, when an event was dead-lettered again after a replay. And whether more may be
    there, left unread past the limit."""
    consumer, partitions = _replay_position(bootstrap_servers, dead_letter_topic(group))
    try:
        consumer.assign(partitions)
        end_offsets = consumer.end_offsets(partitions)
        letters: dict[str, DeadLetter] = {}
        pending = {tp for tp, end in end_offsets.items() if position_of(consumer, tp) < end}
        while pending and len(letters) < limit:
            for partition, records in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).items():
                for record in records:
                    if record.offset < end_offsets[partition]:
                        letter = _described(record)
                        letters.pop(letter.event_id, None)
                        letters[letter.event_id] = letter
            pending = {tp for tp in pending if position_of(consumer, tp) < end_offsets[tp]}
        return list(letters.values())[:limit], bool(pending) or len(letters) > limit
    finally:
        consumer.close(autocommit=False)


def _replay_position(bootstrap_servers: str, topic: str) -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A reader of the dead-letter topic in the replay's consumer group (whose committed offsets mark
    what `replay` has done), and the topic's partitions."""
    consumer = create_reader(bootstrap_servers, client_id=f"{topic}-replay", group_id=f"{topic}-replay")
    try:
        return consumer, _dead_letter_partitions(consumer, topic)
    except Exception:
        consumer.close(autocommit=False)
        raise


def _dead_letter_partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """ReplayFailed when Kafka lists no such topic: an empty list would read as "no dead letters"
    where a mistyped group or a missing ACL hides them."""
    try:
        return topic_partitions(consumer, topic)
    except UnlistedTopic as unlisted:
        raise ReplayFailed(f"{unlisted} (the groups with one: {', '.join(CONSUMER_GROUPS)})") from None


def replay_letter(bootstrap_servers: str, group: str, partition: int, offset: int) -> DeadLetter | None:
    """Re-publish one dead letter to its original topic (it stays listed until `replay` passes it,
    and its consumer deduplicates by event id); None when there is no such letter."""
    topic = dead_letter_topic(group)
    consumer = create_reader(bootstrap_servers, client_id=f"{topic}-replay")
    try:
        with _replay_producer(bootstrap_servers, topic) as producer:
            return _replay_one(consumer, producer, TopicPartition(topic, partition), offset)
    finally:
        consumer.close(autocommit=False)


def _replay_one(
    consumer: KafkaConsumer, producer: KafkaProducer, where: TopicPartition, offset: int
) -> DeadLetter | None:
    """The letter at `offset` of `where` re-published; None when there is no such letter."""
    if where not in _dead_letter_partitions(consumer, where.topic):
        return None
    consumer.assign([where])
    if not consumer.beginning_offsets([where])[where] <= offset < consumer.end_offsets([where])[where]:
        return None
    consumer.seek(where, offset)
    records = consumer.poll(timeout_ms=POLL_TIMEOUT_MS * 5, max_records=1).get(where, [])
    if not records:
        return None
    result = ReplayResult()
    for send in _republish(producer, records[0], result):
        send.get(timeout=SEND_TIMEOUT_S)
    return _described(records[0]) if result.replayed else None


@contextmanager
def _replay_producer(bootstrap_servers: str, topic: str) -> Iterator[KafkaProducer]:
    """A producer of records as large as the broker took them, closed after the replay."""
    producer = create_producer(
        bootstrap_servers, client_id=f"{topic}-replay", max_request_size=DEAD_LETTER_MAX_BYTES
    )
    try:
        yield producer
    finally:
        producer.close(timeout=10)


def _described(record: ConsumerRecord) -> DeadLetter:
    headers = {name: value.decode(errors="replace") for name, value in record.headers or []}
    try:
        event = json.loads(record.value)
    except ValueError:
        event = {}
    if not isinstance(event, dict):
        event = {}
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        event_id=str(event.get("id") or f"{record.partition}:{record.offset}"),
        event_type=str(event.get("type") or ""),
        subject=str(event.get("subject") or ""),
        original_topic=headers.get(ORIGINAL_TOPIC_HEADER, ""),
        reason=headers.get(REASON_HEADER, ""),
        failed_at=headers.get(FAILED_AT_HEADER, ""),
    )


def _replay_until_caught_up(
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    end_offsets: dict[TopicPartition, int],
    limit: int | None,
) -> ReplayResult:
    """Replay up to the end offsets seen at the start (letters added meanwhile wait for the next run)."""
    result = ReplayResult()
    pending = {tp for tp, end in end_offsets.items() if position_of(consumer, tp) < end}
    while pending and (limit is None or result.replayed < limit):
        done: dict[TopicPartition, int] = {}
        sends = []
        for partition, records in consumer.poll(timeout_ms=POLL_TIMEOUT_MS).items():
            for record in records:
                if record.offset >= end_offsets[partition] or result.replayed == limit:
                    break
                sends += _republish(producer, record, result)
                done[partition] = record.offset + 1
        producer.flush(timeout=SEND_TIMEOUT_S)
        # Only what Kafka acknowledged is marked replayed: a failed run is simply run again.
        failed = [send for send in sends if not send.succeeded()]
        if failed:
            raise ReplayFailed(
                f"replay stopped: {len(failed)} dead letter(s) not re-published ({failed[0].exception})",
                replayed=result.replayed - len(failed),
            )
        if done:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()})
        pending = {tp for tp in pending if position_of(consumer, tp) < end_offsets[tp]}
    return result


def _republish(producer: KafkaProducer, record: ConsumerRecord, result: ReplayResult) -> list[Any]:
    """Send the dead letter back to its original topic; the send's future (none when skipped)."""
    headers = dict(record.headers or [])
    original = headers.get(ORIGINAL_TOPIC_HEADER)
    if not original:
        log.warning("dead letter at offset %s has no original topic: skipped", record.offset)
        result.skipped += 1
        return []
    if VALUE_LEFT_OUT_HEADER in headers:
        log.warning(
            "dead letter at offset %s was too large to keep its value: skipped (the record is at %s[%s]@%s)",
            record.offset,
            original.decode(),
            headers.get("dlq.original.partition", b"?").decode(),
            headers.get("dlq.original.offset", b"?").decode(),
        )
        result.skipped += 1
        return []
    kept = [(name, value) for name, value in record.headers or [] if not name.startswith(DLQ_HEADER_PREFIX)]
    result.replayed += 1
    return [producer.send(original.decode(), key=record.key, value=record.value, headers=kept)]


def show_parked(conn: psycopg.Connection) -> None:
    """Print the parked outbox rows, one a line."""
    rows = parked_rows(conn)
    for row in rows:
        print(
            f"row {row.id} event {row.event_id} topic {row.topic} key {row.record_key} ({row.size} bytes), "
            f"parked {row.parked_at}, {row.waiting_behind} row(s) waiting behind it: {row.park_reason}"
        )
    print(f"{len(rows)} parked row(s)")


def put_back_parked(conn: psycopg.Connection, ids: list[int] | None) -> None:
    """Put the parked rows (all, or those ids) back in the queue; an id not parked exits 1."""
    not_parked = sorted(set(ids or ()) - {row.id for row in parked_rows(conn)})
    print(f"{replay_parked(conn, ids)} parked row(s) put back in the queue")
    if not_parked:
        sys.exit(f"accounts-dlq: not parked, left as they are: row(s) {', '.join(map(str, not_parked))}")


def main(argv: list[str] | None = None) -> None:
    """`accounts-dlq replay`, `parked` or `replay-parked` (see the module docstring)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The client logs every retry; what failed in the end is said in one line below.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(
        prog="accounts-dlq",
        description="Show and replay what could not be processed (dead letters) or published (parked "
        "outbox rows).\n\n" + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    replay_command = commands.add_parser("replay", help="re-publish dead letters to their original topics")
    replay_command.add_argument("--group", required=True, help="the consumer group, e.g. mailer")
    replay_command.add_argument("--limit", type=int, default=None, help="replay at most this many")
    add_bootstrap_servers_option(replay_command)
    for name, help_text in (
        ("parked", "list the outbox rows the relay parked"),
        ("replay-parked", "put parked outbox rows back in the relay's queue"),
    ):
        command = commands.add_parser(name, help=help_text)
        where = command.add_mutually_exclusive_group(required=True)
        where.add_argument("--service", help="whose outbox, e.g. identity (its <SERVICE>_DATABASE_URL)")
        where.add_argument("--database-url", help="the database holding the outbox")
        if name == "replay-parked":
            command.add_argument("--id", type=int, action="append", help="only this row (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "replay":
        if args.limit is not None and args.limit < 1:
            replay_command.error("--limit must be at least 1")
        try:
            result = replay(args.bootstrap_servers, args.group, limit=args.limit)
        except ReplayFailed as error:
            sys.exit(f"accounts-dlq: {error}")
        except REFUSED as error:  # a setting to fix, not an outage
            sys.exit(str(not_authorized("accounts-dlq", error, then=AFTER_REFUSAL)))
        except KafkaError as error:
            sys.exit(f"accounts-dlq: cannot reach Kafka at {args.bootstrap_servers}: {error}")
        print(f"{dead_letter_topic(args.group)}: replayed {result.replayed}, skipped {result.skipped}")
        return
    url = args.database_url or database_url(args.service)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if args.command == "parked":
                show_parked(conn)
            else:
                put_back_parked(conn, args.id)
    except psycopg.OperationalError as error:
        sys.exit(f"accounts-dlq: cannot reach the database: {error}")
    except psycopg.ProgrammingError as error:
        first_line = str(error).splitlines()[0]
        sys.exit(f"accounts-dlq: {first_line} (has the service's `migrate` run?)")


if __name__ == "__main__":
    main()
