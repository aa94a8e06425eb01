"""The JSON Schema of every event version, committed under docs/schemas/, and the guard that keeps
a change from breaking the readers of a published version.

A change breaks a reader when records written after it fail the reader's schema, or when records
written before it fail the new schema that readers upgrade to: a removed (or renamed) field, a
changed type or format, a new value outside an enumeration, a new required field, or a changed
`x-meaning`. Adding an optional field breaks nobody (readers ignore unknown fields), nor naming a
format that takes every value ever written (`idn-email` for `email`, `uri` for `url`).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from accounts_common.events.schemas import EVENT_SCHEMAS, STATE_SCHEMAS, EventData
from accounts_common.textfields import Mailbox

# Every published version of every record value. A breaking change is a new version (docs/events.md).
SCHEMAS_BY_VERSION: dict[int, dict[str, type[EventData]]] = {1: {**EVENT_SCHEMAS, **STATE_SCHEMAS}}
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"
# A format restated as the JSON Schema format true of every value ever written breaks no reader:
# `idn-email` for `email` (identity takes internationalised addresses, which `email` refused), `uri`
# for apispec's `url` (no JSON Schema format: a strict validator refused the schema).
RESTATED_FORMAT = {"email": "idn-email", "hostname": "idn-hostname", "url": "uri"}


def file_name(name: str, version: int) -> str:
    """The committed schema's file name, e.g. AccountVerified.v1.json."""
    return f"{name}.v{version}.json"


def json_schema(name: str, version: int, schema: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of one version of a record value (for an event: its `data`), standing alone:
    the objects it nests (a video's texts, its renditions) under `$defs`, where its `$ref`s point."""
    spec = event_spec(str(version))
    spec.components.schema(name, schema=schema)
    nested = spec.to_dict()["components"]["schemas"]
    document = {"$schema": JSON_SCHEMA_DIALECT, "title": f"{name} v{version}"} | nested.pop(name)
    return _refs_to_defs(document | {"$defs": nested} if nested else document)


def event_spec(version: str) -> APISpec:
    """An APISpec for event data schemas, as the JSON Schemas and the AsyncAPI document show them: an
    address (Mailbox) is an `idn-email`, as identity lets internationalised addresses in; a URL a
    `uri` (apispec's `url` is no JSON Schema format)."""
    plugin = MarshmallowPlugin()
    spec = APISpec("events", version, "3.1.0", plugins=[plugin])
    plugin.map_to_openapi_type(Mailbox, "string", "idn-email")
    plugin.map_to_openapi_type(fields.Url, "string", "uri")
    return spec


def _refs_to_defs(value: Any) -> Any:
    """`value` with apispec's `#/components/schemas/X` references made `#/$defs/X`."""
    if isinstance(value, dict):
        return {
            key: item.replace(COMPONENTS, "#/$defs/", 1) if key == "$ref" else _refs_to_defs(item)
            for key, item in value.items()
        }
    return [_refs_to_defs(item) for item in value] if isinstance(value, list) else value


def generated() -> dict[str, dict[str, Any]]:
    """Every version's JSON Schema by file name."""
    return {
        file_name(name, version): json_schema(name, version, schema)
        for version, schemas in SCHEMAS_BY_VERSION.items()
        for name, schema in schemas.items()
    }


def breaking_changes(published: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    """Why `changed` would break readers of `published` (empty: it would not)."""
    before, after = published.get("properties", {}), changed.get("properties", {})
    problems = [f"field {name!r} removed or renamed" for name in before if name not in after]
    for name in before.keys() & after.keys():
        problems += [f"field {name!r}: {problem}" for problem in _field_changes(before[name], after[name])]
    newly_required = set(changed.get("required", ())) - set(published.get("required", ()))
    problems += [f"field {name!r} is newly required" for name in sorted(newly_required)]
    return sorted(problems)


def _field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    problems = []
    restated = RESTATED_FORMAT.get(before.get("format", "")) == after.get("format")
    if not _types(after) <= _types(before) or (before.get("format") != after.get("format") and not restated):
        problems.append(f"type changed from {_shown(before)} to {_shown(after)}")
    if "enum" in before and not set(after.get("enum", ())) <= set(before["enum"]):
        problems.append(f"values beyond {before['enum']}")
    if before.get("x-meaning") != after.get("x-meaning"):
        problems.append(f"meaning changed from {before.get('x-meaning')!r} to {after.get('x-meaning')!r}")
    return problems


def _types(field: dict[str, Any]) -> set[str]:
    declared = field.get("type", ())
    return {declared} if isinstance(declared, str) else set(declared)


def _shown(field: dict[str, Any]) -> str:
    return "/".join(sorted(_types(field))) + (f" ({field['format']})" if "format" in field else "")


def render(schema: dict[str, Any]) -> str:
    """A schema as the committed JSON text."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`accounts-schemas [--folder docs/schemas]`: write every version's JSON Schema; refuse a
    breaking change to a committed one (make a new version instead)."""
    parser = argparse.ArgumentParser(prog="accounts-schemas", description=main.__doc__)
    parser.add_argument(
        "--folder", type=Path, default=Path("docs/schemas"), help="where to write them (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        args.folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"accounts-schemas: cannot write {args.folder}: {error.strerror}") from None
    schemas = generated()
    refused = {
        name: problems
        for name, schema in schemas.items()
        if (args.folder / name).exists()
        and (problems := breaking_changes(json.loads((args.folder / name).read_text()), schema))
    }
    for name, problems in refused.items():
        print(f"{name}: breaking change, not written: {'; '.join(problems)}", file=sys.stderr)
    for name, schema in schemas.items():
        if name not in refused:
            (args.folder / name).write_text(render(schema), encoding="utf-8")
    print(f"schemas: {len(schemas) - len(refused)} written to {args.folder}")
    if refused:
        raise SystemExit("a breaking change needs a new version: see docs/events.md")


if __name__ == "__main__":
    main()
