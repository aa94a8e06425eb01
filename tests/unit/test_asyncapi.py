from pathlib import Path

from accounts_common.events import EVENT_SCHEMAS, TOPICS
from accounts_common.events.asyncapi import build_document, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_the_generated_one():
    assert COMMITTED.read_text() == render(), (
        "regenerate it: .venv/bin/accounts-asyncapi --output docs/asyncapi.json"
    )


def test_every_event_is_carried_by_a_documented_topic_with_an_example():
    document = build_document()
    carried = {event for topic in TOPICS for event in topic.events}
    assert set(EVENT_SCHEMAS) <= carried
    for event in EVENT_SCHEMAS:
        message = document["components"]["messages"][event]
        assert message["examples"][0]["payload"]["type"] == event
        assert f"{event}Data" in document["components"]["schemas"]


def test_channels_reference_only_declared_messages():
    document = build_document()
    messages = document["components"]["messages"]
    for channel in document["channels"].values():
        for reference in channel["messages"].values():
            assert reference["$ref"].rsplit("/", 1)[-1] in messages
