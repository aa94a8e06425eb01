import json
import re
from importlib.resources import files
from itertools import permutations

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
from accounts_common.events.videos import is_newer

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


@pytest.mark.parametrize(
    "revision, said",
    [
        (None, "Missing data"),
        (-1, "greater than or equal to 0"),
        ("2", "Not a valid integer"),
        (1.5, "integer"),
    ],
)
def test_a_texts_change_without_a_whole_revision_is_refused_naming_it(revision, said):
    data = json.loads(example("VideoTextsChanged"))["data"]
    if revision is None:
        del data["texts_revision"]
    else:
        data["texts_revision"] = revision
    with pytest.raises(InvalidEvent, match=f"texts_revision.*{said}"):
        validate_data("VideoTextsChanged", data)


@pytest.mark.parametrize("event_type", ["VideoPublished", "VideoUnpublished", "VideoTextsChanged"])
def test_a_video_event_may_leave_out_its_video_revision_but_not_carry_a_bad_one(event_type):
    data = json.loads(example(event_type))["data"]
    assert validate_data(event_type, data)["video_revision"] == data["video_revision"]
    older = {name: value for name, value in data.items() if name != "video_revision"}
    assert "video_revision" not in validate_data(event_type, older)  # written before the numbering
    for revision, said in ((0, "greater than or equal to 1"), ("2", "Not a valid integer"), (1.5, "integer")):
        with pytest.raises(InvalidEvent, match=f"video_revision.*{said}"):
            validate_data(event_type, {**data, "video_revision": revision})


def test_a_video_event_is_newer_when_its_number_is_higher_or_none_numbered_was_applied():
    assert is_newer(3, 2) and is_newer(1, None)
    assert not is_newer(2, 2) and not is_newer(1, 2)
    assert is_newer(None, None)  # from before the numbering, none numbered applied yet: as it comes
    assert not is_newer(None, 5)  # from before the numbering: older than any numbered event


# A video's events as the catalogue writes them: published, retitled, withdrawn, published again,
# retitled, withdrawn again. (type, video_revision, title or None)
HISTORY = [
    ("VideoPublished", 1, "First"),
    ("VideoTextsChanged", 2, "Second"),
    ("VideoUnpublished", 3, None),
    ("VideoPublished", 4, "Second"),
    ("VideoTextsChanged", 5, "Third"),
    ("VideoUnpublished", 6, None),
]


def followed(events) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """What a consumer keeps of the video by the documented rule: its publication from the newest
    VideoPublished / VideoUnpublished, its title from the newest VideoPublished / VideoTextsChanged."""
    state = {"published": None, "publication_from": None, "title": None, "title_from": None}
    for kind, revision, title in events:
        if kind != "VideoTextsChanged" and is_newer(revision, state["publication_from"]):
            state |= {"published": kind == "VideoPublished", "publication_from": revision}
        if kind != "VideoUnpublished" and is_newer(revision, state["title_from"]):
            state |= {"title": title, "title_from": revision}
    return state


@pytest.mark.parametrize(
    "upto, published, title",
    [(2, True, "Second"), (3, False, "Second"), (4, True, "Second"), (6, False, "Third")],
)
def test_in_whatever_order_a_videos_events_come_again_and_late_what_is_kept_is_the_newest(
    upto, published, title
):
    history = HISTORY[:upto]
    newest = followed(history)
    assert (newest["published"], newest["title"]) == (published, title)
    for order in permutations(history):
        assert followed([*order, *order[: len(order) // 2]]) == newest  # late, and some redelivered


def string_paths(value, path=""):  # type: ignore[no-untyped-def]
    """The dotted path of every string in a JSON value."""
    if isinstance(value, str):
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from string_paths(item, f"{path}.{key}" if path else str(key))


def with_string_at(data, path: str, insert: str):  # type: ignore[no-untyped-def]
    """A copy of `data` whose string at `path` has `insert` in its middle."""
    data = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    holder = data
    for key in parents:
        holder = holder[int(key) if isinstance(holder, list) else key]
    key = int(last) if isinstance(holder, list) else last
    text = holder[key]
    holder[key] = text[: len(text) // 2] + insert + text[len(text) // 2 :]
    return data


EVERY_DATA_STRING = [
    (event_type, path)
    for event_type in sorted(EVENT_SCHEMAS)
    for path in string_paths(json.loads(example(event_type))["data"])
]


@pytest.mark.parametrize(("event_type", "path"), EVERY_DATA_STRING)
@pytest.mark.parametrize(
    ("odd", "said"), [("\u0000", "U+0000"), ("\ud800", "lone surrogate")], ids=["nul", "surrogate"]
)
def test_a_string_no_database_can_store_is_refused_naming_the_field(event_type, path, odd, said):
    """NUL and lone surrogates fail the handler's INSERT: refused here, they are dead-lettered at once."""
    data = with_string_at(json.loads(example(event_type))["data"], path, odd)
    with pytest.raises(InvalidEvent, match=rf"'{re.escape(path)}': \[.*{re.escape(said)}"):
        validate_data(event_type, data)


@pytest.mark.parametrize(
    "data",
    [{"favourite_colour": "te\u0000al"}, {"favourite\u0000colour": "teal"}, {"notes": [{"n": "\ud800"}]}],
    ids=["an-unknown-field", "a-key", "deep-in-an-unknown-field"],
)
def test_nul_anywhere_in_the_data_is_refused_even_where_readers_look_no_further(data):
    with pytest.raises(InvalidEvent, match="U\\+0000|lone surrogate"):
        validate_data("UserRegistered", json.loads(example("UserRegistered"))["data"] | data)


def test_free_text_keeps_its_tabs_and_newlines():
    data = json.loads(example("NewsletterDeliveryRequested"))["data"]
    data["text"] = "Dear reader,\r\n\tnew this month:\n"
    assert validate_data("NewsletterDeliveryRequested", data)["text"] == data["text"]


def test_data_nested_as_deep_as_json_reads_is_refused_not_crashed():
    deep = json.loads('{"n": ' + "[" * 900 + '"\\u0000"' + "]" * 900 + "}")
    with pytest.raises(InvalidEvent, match="U\\+0000"):
        validate_data("UserRegistered", json.loads(example("UserRegistered"))["data"] | deep)


@pytest.mark.parametrize("attribute", ["id", "source", "type", "subject", "time", "datacontenttype"])
@pytest.mark.parametrize("odd", ["\u0000", "\n", "\x1b", "\u0085", "\ud800"], ids=repr)
def test_a_control_character_in_an_envelope_attribute_is_refused_naming_it(attribute, odd):
    document = json.loads(example("UserRegistered"))
    document[attribute] = document[attribute][:8] + odd + document[attribute][8:]
    with pytest.raises(InvalidEvent, match=rf"^{attribute}\b"):
        parse_event(json.dumps(document))
