"""Event contracts: the CloudEvents envelope, the schema of each event's data, and the topics."""

from accounts_common.events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    InvalidEvent,
    new_event,
    parse_event,
)
from accounts_common.events.schemas import EVENT_SCHEMAS, validate_data
from accounts_common.events.topics import TOPICS, Topic, dead_letter_topic

__all__ = [
    "CONTENT_TYPE",
    "EVENT_SCHEMAS",
    "TOPICS",
    "CloudEvent",
    "InvalidEvent",
    "Topic",
    "dead_letter_topic",
    "new_event",
    "parse_event",
    "validate_data",
]
