"""`accounts-dlq replay --group G`: put a consumer group's dead letters back on their original topics.

Run it once the cause is fixed (the SMTP server accepts the address again, a bug is deployed
away). The replay reads `<group>.dlq` as its own consumer group, so each dead letter is replayed
once; consumers deduplicate by event id, so replaying one that did pass meanwhile is harmless.
"""

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from accounts_common.config import kafka_bootstrap_servers
from accounts_common.events import dead_letter_topic
from accounts_common.kafka import create_producer

log = logging.getLogger(__name__)

ORIGINAL_TOPIC_HEADER = "dlq.original.topic"
DLQ_HEADER_PREFIX = "dlq."
POLL_TIMEOUT_MS = 1000
SEND_TIMEOUT_S = 30


@dataclass
class ReplayResult:
    """What a replay did."""

    replayed: int = 0
    skipped: int = 0


def replay(bootstrap_servers: str, group: str, *, limit: int | None = None) -> ReplayResult:
    """Re-publish the group's unreplayed dead letters (at most `limit`) to their original topics."""
    topic = dead_letter_topic(group)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=f"{topic}-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = create_producer(bootstrap_servers, client_id=f"{topic}-replay")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise SystemExit(f"no dead-letter topic {topic}")
        consumer.assign(partitions)
        return _replay_until_caught_up(consumer, producer, consumer.end_offsets(partitions), limit)
    finally:
        producer.close(timeout=10)
        consumer.close(autocommit=False)


def _replay_until_caught_up(
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    end_offsets: dict[TopicPartition, int],
    limit: int | None,
) -> ReplayResult:
    """Replay up to the end offsets seen at the start (letters added meanwhile wait for the next run)."""
    result = ReplayResult()
    pending = {tp for tp, end in end_offsets.items() if consumer.position(tp) < end}
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
            raise SystemExit(
                f"replay stopped: {len(failed)} dead letter(s) not re-published ({failed[0].exception})"
            )
        if done:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()})
        pending = {tp for tp in pending if consumer.position(tp) < end_offsets[tp]}
    return result


def _republish(producer: KafkaProducer, record: ConsumerRecord, result: ReplayResult) -> list[Any]:
    """Send the dead letter back to its original topic; the send's future (none when skipped)."""
    headers = dict(record.headers or [])
    original = headers.get(ORIGINAL_TOPIC_HEADER)
    if not original:
        log.warning("dead letter at offset %s has no original topic: skipped", record.offset)
        result.skipped += 1
        return []
    kept = [(name, value) for name, value in record.headers or [] if not name.startswith(DLQ_HEADER_PREFIX)]
    result.replayed += 1
    return [producer.send(original.decode(), key=record.key, value=record.value, headers=kept)]


def main(argv: list[str] | None = None) -> None:
    """`accounts-dlq replay --group G [--limit N]`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="accounts-dlq", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    replay_command = commands.add_parser("replay", help="re-publish dead letters to their original topics")
    replay_command.add_argument("--group", required=True, help="the consumer group, e.g. mailer")
    replay_command.add_argument("--limit", type=int, default=None, help="replay at most this many")
    replay_command.add_argument("--bootstrap-servers", default=kafka_bootstrap_servers())
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    result = replay(args.bootstrap_servers, args.group, limit=args.limit)
    print(f"{dead_letter_topic(args.group)}: replayed {result.replayed}, skipped {result.skipped}")


if __name__ == "__main__":
    main()
