import json
from importlib.resources import files

import pytest

from accounts_common.events import (
    CONTENT_TYPE,
    EVENT_SCHEMAS,
    InvalidEvent,
    new_event,
    parse_event,
    validate_data,
)
from accounts_common.events.schemas import STATE_SCHEMAS

EXAMPLES = files("accounts_common.events").joinpath("examples")


def example(event_type: str) -> str:
    return EXAMPLES.joinpath(f"{event_type}.json").read_text()


@pytest.mark.parametrize("event_type", sorted(EVENT_SCHEMAS))
def test_every_event_type_has_a_valid_example(event_type):
    event = parse_event(example(event_type))
    assert event.type == event_type
    assert event.subject
    validate_data(event.type, event.data)


@pytest.mark.parametrize("name", sorted(STATE_SCHEMAS))
def test_every_state_record_has_a_valid_example(name):
    STATE_SCHEMAS[name]().load(json.loads(example(name)))


def test_every_example_file_is_of_a_known_event_type_or_state_record():
    names = {entry.name.removesuffix(".json") for entry in EXAMPLES.iterdir() if entry.name.endswith(".json")}
    assert names == set(EVENT_SCHEMAS) | set(STATE_SCHEMAS)


def test_envelope_round_trip_keeps_every_attribute():
    event = new_event(
        "AccountVerified",
        source="/identity",
        subject="5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30",
        data={
            "account_id": "5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30",
            "email": "a@example.org",
            "verified_at": "2026-11-27T10:00:00+00:00",
        },
    )
    document = json.loads(event.to_json())
    assert document["specversion"] == "1.0"
    assert document["datacontenttype"] == "application/json"
    assert parse_event(event.to_json().encode()) == event
    assert event.content_headers() == [("content-type", CONTENT_TYPE.encode())]


def test_readers_ignore_unknown_fields():
    data = json.loads(example("UserRegistered"))["data"] | {"favourite_colour": "teal"}
    assert "favourite_colour" not in validate_data("UserRegistered", data)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"\xff\xfe", "not JSON"),
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"specversion": "1.0", "id": "x", "source": "/s"}', "type"),
        (b'{"specversion": "0.3", "id": "x", "source": "/s", "type": "T"}', "specversion"),
        (b'{"specversion": "1.0", "id": "not-a-uuid", "source": "/s", "type": "T"}', "not a UUID"),
        (
            b'{"specversion": "1.0", "id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "source": "/s", '
            b'"type": "T", "data": [1]}',
            "data is not a JSON object",
        ),
        pytest.param(
            b'{"specversion": "1.0", "id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "source": "/s", '
            b'"type": "T", "data": {"n": ' + b"9" * 5000 + b"}}",
            "number too long",
            id="an-integer-of-5000-digits",
        ),
        pytest.param(
            b'{"specversion": "1.0", "id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "source": "/s", '
            b'"type": "T", "data": {"n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
            "nested too deeply",
            id="arrays-nested-100000-deep",
        ),
    ],
)
def test_invalid_records_are_rejected_with_the_reason(value, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(value)


def test_invalid_data_names_the_bad_fields():
    with pytest.raises(InvalidEvent, match="email"):
        validate_data(
            "AccountVerified",
            {
                "account_id": "5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30",
                "email": "nope",
                "verified_at": "2026-11-27T10:00:00+00:00",
            },
        )
