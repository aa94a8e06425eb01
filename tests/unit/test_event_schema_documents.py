"""The event contracts as a consumer outside Python reads them: each committed JSON Schema and each
message of the AsyncAPI document compiles in a standard JSON Schema validator (ECMA-262 patterns,
every `$ref` resolvable within the document) and takes the committed example."""

import json
from importlib.resources import files
from pathlib import Path

import jsonschema_rs
import pytest

from accounts_common.events.schemas import STATE_SCHEMAS

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = files("accounts_common.events").joinpath("examples")
ASYNCAPI = json.loads((DOCS / "asyncapi.json").read_text())


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
