"""`accounts-topics` on a cluster whose topics exist already: each one's declared settings are brought
up to date (a retention shortened in topics.py reaches a developer's broker too), and nothing else."""

import dataclasses
import uuid

from kafka.admin import ConfigResource, ConfigResourceType

from accounts_common.events.topics import Topic, ensure_topics
from accounts_common.kafka import create_admin
from tests.conftest import Infra, fresh_topics


def settings_of(infra: Infra, name: str) -> dict[str, str]:
    """The topic's settings that differ from the broker's defaults."""
    admin = create_admin(infra.kafka, client_id="test-topics")
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in described["topic"][name].items()}


def test_a_topic_declared_with_other_settings_gets_them_and_keeps_the_rest(infra):
    declared = Topic(f"test-settings-{uuid.uuid4().hex}", partitions=1,
                     configs={"retention.ms": "3600000", "segment.ms": "600000"})  # fmt: skip
    fresh_topics(infra, declared)
    shortened = dataclasses.replace(declared, configs={"retention.ms": "1800000", "segment.ms": "600000"})

    ensured = ensure_topics(infra.kafka, (shortened,))

    assert (ensured.created, ensured.updated) == ([], [declared.name])
    settings = settings_of(infra, declared.name)
    assert (settings["retention.ms"], settings["segment.ms"]) == ("1800000", "600000")
    again = ensure_topics(infra.kafka, (shortened,))
    assert (again.created, again.updated) == ([], [])
