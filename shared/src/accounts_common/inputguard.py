"""One guard for every JSON body, query string and path segment, before any view or schema sees
them: no NUL or other control character (C0, DEL, C1; tab, CR and newline only in free-text
fields), no lone surrogate, no nesting deeper than MAX_DEPTH, no date outside the years
MIN_YEAR..MAX_YEAR. Each would otherwise reach the database (NUL and surrogates: psycopg
DataError), a header or a log line (CR/LF), the JSON parser's recursion limit or date arithmetic
(OverflowError): a 500."""

import functools
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from apispec import APISpec
from flask import Flask, current_app, request
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge, UnprocessableEntity

from accounts_common.textfields import FREE_TEXT

MAX_DEPTH = 32
MIN_YEAR, MAX_YEAR = 1000, 9998
# What a date out of those years is refused with (the portal translates it for the page).
DATE_OUT_OF_RANGE = f"Dates must fall in the years {MIN_YEAR} to {MAX_YEAR}."

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InputRejected(UnprocessableEntity):
    """A 422 naming the field and what is wrong with it (problem+json in the APIs, a page in the portal)."""

    def __init__(self, field: str, message: str) -> None:
        detail = f"{field}: {message}" if field else message
        super().__init__(description=detail)
        self.data = {"messages": {"guard": {field or "_body": [message]}}, "detail": detail}


def install_input_guard(app: Flask) -> None:
    """Check the query string and the JSON body of every request of `app` before its view runs."""
    app.before_request(guard_request)


def guard_request() -> None:
    schemas = _argument_schemas()
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            _check_text(value, None, name)
    query = _members(schemas.get("query")) or {}
    for name, values in request.args.lists():
        field = query.get(name)
        for value in values:
            _check(value, field.inner if isinstance(field, fields.List) else field, name, 1)
    if request.is_json and request.content_length != 0:
        body = _parsed_body()
        if body is not None:
            _check(body, schemas.get("json"), "", 1)


def _parsed_body() -> Any:
    data = request.get_data(cache=True)
    _refuse_a_cut_body(data)
    try:
        return json.loads(data)
    except RecursionError:
        raise InputRejected("", f"The JSON body is nested deeper than {MAX_DEPTH} levels.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # malformed JSON: the view's parser answers 400 with the reason
    except ValueError:
        # Valid JSON, but an integer over sys.get_int_max_str_digits() digits: no parser reads it.
        raise InputRejected("", "The JSON body holds a number too long to read.") from None


def _refuse_a_cut_body(data: bytes) -> None:
    """A 413 for a streamed body (chunked: no Content-Length) over MAX_CONTENT_LENGTH, as for a
    Content-Length over it: werkzeug stops reading such a body at the limit without a word, and the
    views would parse its first bytes (malformed JSON: a 400 saying nothing of the size)."""
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()


def _argument_schemas() -> dict[str, Schema]:
    """The request schemas (by location) flask-smorest's @blp.arguments declared on this view."""
    view = current_app.view_functions.get(request.endpoint or "")
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    declared = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return {parameter["in"]: _instance(parameter["schema"]) for parameter in declared}


@functools.cache
def _schema_of_class(schema_class: type[Schema]) -> Schema:
    return schema_class()


def _instance(schema: type[Schema] | Schema) -> Schema:
    return _schema_of_class(schema) if isinstance(schema, type) else schema


def _check(value: Any, field: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputRejected(path, f"Nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value, field, path)
    elif isinstance(value, dict):
        members = _members(field)
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            _check_text(key, None, name)
            member = members.get(key) if members is not None else _dict_values(field)
            _check(item, member, name, depth + 1)
    elif isinstance(value, list):
        inner = field.inner if isinstance(field, fields.List) else None
        for index, item in enumerate(value):
            _check(item, inner, f"{path}.{index}" if path else str(index), depth + 1)


def _members(field: Any) -> dict[str, fields.Field] | None:
    schema = field.schema if isinstance(field, fields.Nested) else field
    if not isinstance(schema, Schema):
        return None
    return {member.data_key or name: member for name, member in schema.fields.items()}


def _dict_values(field: Any) -> fields.Field | None:
    return field.value_field if isinstance(field, fields.Dict) else None


def _check_text(value: str, field: Any, path: str) -> None:
    if value.isascii() and value.isprintable():
        pass  # the usual case, checked in C: neither a control character nor a surrogate
    elif _SURROGATE.search(value):
        raise InputRejected(path, "Contains a lone surrogate, which is not a Unicode character.")
    else:
        _check_controls(value, field, path)
    if isinstance(field, fields.Date | fields.DateTime):
        _check_date(value, field, path)


def _check_controls(value: str, field: Any, path: str) -> None:
    free_text = isinstance(field, fields.Field) and field.metadata.get(FREE_TEXT)
    control = (_CONTROL_IN_FREE_TEXT if free_text else _CONTROL).search(value)
    if control:
        where = "" if free_text else " (tab, CR and newline only in free text)"
        raise InputRejected(path, f"Contains the control character U+{ord(control[0]):04X}{where}.")


def _check_date(value: str, field: fields.Date | fields.DateTime, path: str) -> None:
    try:
        parsed = field.deserialize(value)
    except Exception:  # noqa: BLE001 - not a date at all: the schema says so in its own words
        return
    if isinstance(parsed, date) and not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise InputRejected(path, DATE_OUT_OF_RANGE)


# What the guard lets through, as ECMA-262 patterns for the OpenAPI document.
ONE_LINE_TEXT = r"^[^\u0000-\u001F\u007F-\u009F]*$"
FREE_TEXT_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
_FORMATS_WITHOUT_CONTROLS = {"date", "date-time", "uuid", "email", "uri", "url"}
# The years MIN_YEAR to MAX_YEAR (1000-9998), which is all _check_date lets through.
YEAR_IN_RANGE = r"^(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def document_input_guard(spec: APISpec) -> None:
    """State the guard in the OpenAPI document: a 422 on every operation, and a pattern without
    control characters on every request string that has no pattern of its own."""
    components = spec.components.schemas
    for item in spec.to_dict()["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            operation["responses"].setdefault(
                "422", spec.components.get_ref("response", "UNPROCESSABLE_ENTITY")
            )
            for parameter in operation.get("parameters", []):
                _forbid_controls(parameter.get("schema", {}), components, set())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _forbid_controls(content.get("schema", {}), components, set())


def _forbid_controls(schema: Any, components: Mapping[str, Any], seen: set[str]) -> None:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            _forbid_controls(components[name], components, seen)
        return
    types = schema.get("type")
    is_string = types == "string" or (isinstance(types, list) and "string" in types)
    if (
        is_string
        and not {"pattern", "enum"} & schema.keys()
        and schema.get("format") not in _FORMATS_WITHOUT_CONTROLS
    ):
        schema["pattern"] = FREE_TEXT_PATTERN if schema.get(FREE_TEXT) else ONE_LINE_TEXT
    if is_string and schema.get("format") in ("date", "date-time") and "pattern" not in schema:
        schema["pattern"] = YEAR_IN_RANGE
    for member in schema.get("properties", {}).values():
        _forbid_controls(member, components, seen)
    for key in ("items", "additionalProperties"):
        _forbid_controls(schema.get(key), components, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(key, []):
            _forbid_controls(member, components, seen)
