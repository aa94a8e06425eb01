"""`accounts-rewind`: a stopped consumer group moved back to a time, as after a restore of PostgreSQL
(docs/operating/backups.md), on the real Kafka; refused while the group has a member."""

import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from accounts_common.events.topics import Topic
from accounts_common.kafka import create_admin, create_consumer, create_reader
from accounts_common.rewind import main
from tests.conftest import Infra, fresh_topics
from tests.support.polling import wait_for

WRITTEN_AT_MS = (1_700_000_000_000, 1_700_000_060_000, 1_700_000_120_000)  # a minute apart


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@pytest.fixture
def consumed(infra: Infra) -> tuple[str, TopicPartition]:
    """A group that has consumed the three records of a topic of its own: its name and the partition."""
    topic, group = f"test.rewind.{uuid.uuid4().hex[:8]}", f"test-rewind-{uuid.uuid4().hex[:8]}"
    fresh_topics(infra, Topic(topic, partitions=1))
    producer = KafkaProducer(bootstrap_servers=infra.kafka)
    for at in WRITTEN_AT_MS:
        producer.send(topic, b"event", timestamp_ms=at)
    producer.flush()
    producer.close()
    partition = TopicPartition(topic, 0)
    reader = create_reader(infra.kafka, client_id="test-rewind", group_id=group)
    reader.assign([partition])
    reader.commit({partition: OffsetAndMetadata(3, "", -1)})
    reader.close(autocommit=False)
    return group, partition


def committed(infra: Infra, group: str, partition: TopicPartition) -> int:
    admin = create_admin(infra.kafka, client_id="test-rewind")
    try:
        return admin.list_group_offsets({group: None})[group][partition].offset
    finally:
        admin.close()


def test_a_stopped_group_goes_back_to_the_first_record_at_or_after_the_time(infra: Infra, consumed, capsys):
    group, partition = consumed
    main(["--group", group, "--to", iso(WRITTEN_AT_MS[1] - 1), "--bootstrap-servers", infra.kafka])
    assert capsys.readouterr().out == f"{group} {partition.topic}[0]: 3 -> 1\n"
    assert committed(infra, group, partition) == 1

    main(["--group", group, "--to", iso(WRITTEN_AT_MS[2] + 1), "--bootstrap-servers", infra.kafka])
    assert capsys.readouterr().out == f"{group} {partition.topic}[0]: 1 -> 3\n"  # past the last: the end


def test_a_group_with_a_member_is_left_where_it_is(infra: Infra, consumed):
    group, partition = consumed
    member = create_consumer(infra.kafka, group_id=group, topics=(partition.topic,))
    try:
        # Polls long enough for a join to finish inside one. Twice under a loaded make test, with 200 ms
        # polls, the member rejoined, synced, then sent nothing more: the broker removed it 10 s later
        # and no join followed. kafka-python 3.0.12 never takes up a leader's rejoin for new metadata
        # that ends between two polls; create_consumer's members now join again (GroupMember).
        wait_for(
            lambda: member.poll(timeout_ms=5_000) is not None and member.assignment(),
            timeout=60,
            what="a member",
        )
        with pytest.raises(SystemExit) as refused:
            main(["--group", group, "--to", iso(WRITTEN_AT_MS[0]), "--bootstrap-servers", infra.kafka])
    finally:
        member.close(autocommit=False)
    assert "stop its workers, then run it again" in str(refused.value.code)
    assert committed(infra, group, partition) == 3


@pytest.mark.parametrize("when", ["2026-12-07T09:00:00", "yesterday"])
def test_a_time_without_its_offset_from_utc_is_a_usage_error(when, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--group", "catalogue", "--to", when])
    assert refused.value.code == 2
    assert "--to" in capsys.readouterr().err
