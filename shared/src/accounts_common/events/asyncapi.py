"""The AsyncAPI 3.0 document of the topics and events, generated from the schemas it describes."""

import argparse
import json
from importlib.resources import files
from typing import Any

from accounts_common.events.compatibility import event_spec
from accounts_common.events.envelope import CONTENT_TYPE
from accounts_common.events.schemas import EVENT_SCHEMAS, STATE_SCHEMAS
from accounts_common.events.topics import TOPICS, Topic
from accounts_common.outbox import FOLLOWS_EVENT_ID_HEADER, FOLLOWS_EVENT_OFFSET_HEADER, STATE_CONTENT_TYPE

ENVELOPE = {
    "type": "object",
    "description": "CloudEvents 1.0, structured mode.",
    "required": ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string", "format": "uuid", "description": "Unique per event: the deduplication key."},
        "source": {"type": "string", "examples": ["/identity"]},
        "type": {"type": "string", "description": "The event name."},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "description": "The account id (also the record key)."},
        "datacontenttype": {"type": "string", "const": "application/json"},
    },
}


def _data_schemas() -> dict[str, Any]:
    spec = event_spec("1")
    for name, schema in EVENT_SCHEMAS.items():
        spec.components.schema(f"{name}Data", schema=schema)
    for name, schema in STATE_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    return spec.to_dict()["components"]["schemas"]


def _example(event_type: str) -> dict[str, Any]:
    text = files("accounts_common.events").joinpath("examples", f"{event_type}.json").read_text()
    return json.loads(text)


def _account_message(
    name: str, content_type: str, payload: dict[str, Any], headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A message keyed by the account id: its content type (and other headers), payload and example."""
    return {
        "name": name,
        "contentType": content_type,
        "headers": {
            "type": "object",
            "properties": {"content-type": {"type": "string", "const": content_type}, **(headers or {})},
        },
        "payload": payload,
        "bindings": {
            "kafka": {"key": {"type": "string", "format": "uuid", "description": "The account id."}}
        },
        "examples": [{"name": name, "payload": _example(name)}],
    }


def _message(event_type: str) -> dict[str, Any]:
    payload = {
        "allOf": [
            {"$ref": "#/components/schemas/CloudEvent"},
            {
                "type": "object",
                "properties": {
                    "type": {"const": event_type},
                    "data": {"$ref": f"#/components/schemas/{event_type}Data"},
                },
            },
        ]
    }
    return _account_message(event_type, CONTENT_TYPE, payload)


def _state_message(name: str) -> dict[str, Any]:
    headers = {
        FOLLOWS_EVENT_ID_HEADER: {"type": "string", "format": "uuid", "description": "The event id."},
        FOLLOWS_EVENT_OFFSET_HEADER: {
            "type": "string",
            "description": "The offset of the event this state follows, on the same partition "
            "number of identity.account-events.v1.",
        },
    }
    payload = {
        "oneOf": [
            {"$ref": f"#/components/schemas/{name}"},
            {"type": "null", "description": "A tombstone: the account was deleted."},
        ]
    }
    return _account_message(name, STATE_CONTENT_TYPE, payload, headers)


def _topic_configuration(topic: Topic) -> dict[str, Any]:
    configuration: dict[str, Any] = {}
    if "cleanup.policy" in topic.configs:
        configuration["cleanup.policy"] = topic.configs["cleanup.policy"].split(",")
    for name in ("retention.ms", "delete.retention.ms"):
        if name in topic.configs:
            configuration[name] = int(topic.configs[name])
    return configuration


def _channel_id(topic: Topic) -> str:
    return topic.name.replace(".", "-")


def _channel(topic: Topic) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": topic.name,
        "description": topic.description,
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": _topic_configuration(topic),
            }
        },
    }
    channel["messages"] = {event: {"$ref": f"#/components/messages/{event}"} for event in _specified(topic)}
    return channel


def _specified(topic: Topic) -> list[str]:
    """The topic's messages that have a schema (a topic may be declared before its events are)."""
    return [event for event in topic.events if event in EVENT_SCHEMAS or event in STATE_SCHEMAS]


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI document as a dict."""
    documented = [topic for topic in TOPICS if _specified(topic) or topic.name.endswith(".dlq")]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Multimedia Accounts events",
            "version": "1",
            "description": "Events exchanged by the Multimedia Accounts services over Apache Kafka. "
            "Consumers ignore unknown fields and unknown event types; a breaking change is a new .v2 topic.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make run"}},
        "channels": {_channel_id(topic): _channel(topic) for topic in documented},
        "operations": {
            f"publish-{_channel_id(topic)}": {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_channel_id(topic)}"},
                "messages": [
                    {"$ref": f"#/channels/{_channel_id(topic)}/messages/{event}"}
                    for event in _specified(topic)
                ],
            }
            for topic in documented
            if _specified(topic)
        },
        "components": {
            "schemas": {"CloudEvent": ENVELOPE, **_data_schemas()},
            "messages": {
                **{event: _message(event) for event in EVENT_SCHEMAS},
                **{name: _state_message(name) for name in STATE_SCHEMAS},
            },
        },
    }


def render() -> str:
    """The document as the JSON text committed in docs/asyncapi.json."""
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`accounts-asyncapi [--output FILE]`: write the AsyncAPI document."""
    parser = argparse.ArgumentParser(prog="accounts-asyncapi", description=main.__doc__)
    parser.add_argument(
        "--output", default="-", metavar="FILE", help="where to write it (default: -, standard output)"
    )
    args = parser.parse_args(argv)
    if args.output == "-":
        print(render(), end="")
        return
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(render())
    except OSError as error:
        raise SystemExit(f"accounts-asyncapi: cannot write {args.output}: {error.strerror}") from None
    print(f"asyncapi: written to {args.output}")


if __name__ == "__main__":
    main()
