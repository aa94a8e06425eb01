"""CloudEvents 1.0 in structured mode: the whole event is one JSON object in the record value."""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
ONE_LINE_ATTRIBUTES = ("id", "source", "type", "subject", "time", "datacontenttype")
# No attribute of ours has a control character (C0, DEL, C1) or a lone surrogate: a handler may
# store them (NUL: a failed INSERT) or log them (CR/LF: a forged line).
_ODD_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class InvalidEvent(ValueError):
    """A record that is not a valid event of ours; the message says why."""


@dataclass(frozen=True)
class CloudEvent:
    """One event: its CloudEvents attributes and its data."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    specversion: str = "1.0"
    datacontenttype: str = "application/json"

    def to_json(self) -> str:
        """The record value: the structured-mode JSON object."""
        return json.dumps(
            {
                "specversion": self.specversion,
                "id": self.id,
                "source": self.source,
                "type": self.type,
                "time": self.time,
                "subject": self.subject,
                "datacontenttype": self.datacontenttype,
                "data": self.data,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @staticmethod
    def content_headers() -> list[tuple[str, bytes]]:
        """The Kafka record headers that go with a structured-mode value."""
        return [("content-type", CONTENT_TYPE.encode())]


def new_event(event_type: str, *, source: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    """A fresh event with a new id and the current time."""
    return CloudEvent(type=event_type, source=source, subject=subject, data=data)


def parse_event(value: bytes | str | None) -> CloudEvent:
    """Read a record value; raise InvalidEvent with the reason when it is not a CloudEvent."""
    if value is None:
        raise InvalidEvent("record has no value")
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent(f"record value is not JSON: {error}") from None
    except ValueError as error:  # an integer over sys.get_int_max_str_digits() digits
        raise InvalidEvent(f"record value holds a number too long to read: {str(error)[:200]}") from None
    except RecursionError:
        raise InvalidEvent("record value is nested too deeply to read") from None
    if not isinstance(document, dict):
        raise InvalidEvent("record value is not a JSON object")
    missing = [name for name in REQUIRED_ATTRIBUTES if not isinstance(document.get(name), str)]
    if missing:
        raise InvalidEvent(f"missing or non-string CloudEvents attributes: {', '.join(missing)}")
    _refuse_odd_characters(document)
    if document["specversion"] != "1.0":
        raise InvalidEvent(f"unsupported specversion {document['specversion']!r}")
    data = document.get("data", {})
    if not isinstance(data, dict):
        raise InvalidEvent("data is not a JSON object")
    try:
        uuid.UUID(document["id"])
    except ValueError:
        raise InvalidEvent(f"id {document['id']!r} is not a UUID") from None
    return CloudEvent(
        type=document["type"],
        source=document["source"],
        subject=str(document.get("subject", "")),
        data=data,
        id=document["id"],
        time=str(document.get("time", "")),
        datacontenttype=str(document.get("datacontenttype", "application/json")),
    )


def _refuse_odd_characters(document: dict[str, Any]) -> None:
    for name in ONE_LINE_ATTRIBUTES:
        value = document.get(name)
        if isinstance(value, str) and (found := _ODD_CHARACTER.search(value)):
            character = f"U+{ord(found[0]):04X}"
            raise InvalidEvent(f"{name} holds {character}: attributes are one line, no control character")
