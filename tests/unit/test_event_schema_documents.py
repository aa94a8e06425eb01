"""The event contracts as a consumer outside Python reads them: each committed JSON Schema and each
message of the AsyncAPI document compiles in a standard JSON Schema validator (ECMA-262 patterns,
every `$ref` resolvable within the document) and takes the committed example."""

import json
from importlib.resources import files
from pathlib import Path

import jsonschema_rs
import pytest

from accounts_common.events.schemas import EVENT_SCHEMAS, STATE_SCHEMAS, EventData
from accounts_common.textfields import Mailbox

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = files("accounts_common.events").joinpath("examples")
ASYNCAPI = json.loads((DOCS / "asyncapi.json").read_text())
SCHEMAS = {**EVENT_SCHEMAS, **STATE_SCHEMAS}


def mailbox_fields(schema: type[EventData]) -> list[str]:
    return [field.data_key or name for name, field in schema().fields.items() if isinstance(field, Mailbox)]


def example(name: str) -> dict:  # type: ignore[type-arg]
    document: dict = json.loads(EXAMPLES.joinpath(f"{name}.json").read_text())  # type: ignore[type-arg]
    return document


def problems(schema: dict, instance: dict) -> list[str]:  # type: ignore[type-arg]
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(instance)]


@pytest.mark.parametrize("path", sorted((DOCS / "schemas").glob("*.json")), ids=lambda path: path.name)
def test_each_committed_schema_stands_alone_and_takes_its_example(path):
    name = path.name.split(".")[0]
    record = example(name) if name in STATE_SCHEMAS else example(name)["data"]
    assert problems(json.loads(path.read_text()), record) == []


@pytest.mark.parametrize("name", sorted(ASYNCAPI["components"]["messages"]))
def test_each_asyncapi_message_takes_its_example(name):
    message = ASYNCAPI["components"]["messages"][name]
    schema = {"components": ASYNCAPI["components"], **message["payload"]}  # its $refs resolve from here
    assert [problems(schema, shown["payload"]) for shown in message["examples"]] == [[]]


INTERNATIONAL = "josé@bücher.example"  # identity takes it (RFC 6531), and the events carry it


@pytest.mark.parametrize(
    "name", sorted(name for name, schema in SCHEMAS.items() if mailbox_fields(schema)), ids=str
)
def test_each_committed_schema_takes_the_internationalised_addresses_identity_accepts(name):
    record = example(name) if name in STATE_SCHEMAS else example(name)["data"]
    record |= {field: INTERNATIONAL for field in mailbox_fields(SCHEMAS[name])}
    SCHEMAS[name]().load(record)  # the services' own reading takes it
    assert problems(json.loads((DOCS / "schemas" / f"{name}.v1.json").read_text()), record) == []


# JSON Schema 2020-12's formats: a strict validator (ajv's default) refuses a schema naming another.
FORMATS = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
    "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
    "relative-json-pointer", "regex",
}  # fmt: skip


def formats(value: object) -> set[str]:
    if isinstance(value, dict):
        named = {value["format"]} if isinstance(value.get("format"), str) else set()
        return named.union(*(formats(item) for item in value.values()))
    return set().union(*(formats(item) for item in value)) if isinstance(value, list) else set()


@pytest.mark.parametrize(
    "path", [*sorted((DOCS / "schemas").glob("*.json")), DOCS / "asyncapi.json"], ids=lambda path: path.name
)
def test_each_document_names_only_json_schema_formats(path):
    assert formats(json.loads(path.read_text())) - FORMATS == set()
