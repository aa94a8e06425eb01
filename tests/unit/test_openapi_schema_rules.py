"""A request schema's cross-field rule (`@validates_schema`) is invisible to apispec: each such schema
says it in JSON Schema too (`JSON_SCHEMA_RULES`), and the app's OpenAPI document carries it, so the
document never calls valid a body the API refuses. And each pattern is one an API client's validator
can read (ECMA-262)."""

import importlib
from pathlib import Path
from typing import Any

import jsonschema_rs
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from accounts_common.textfields import Mailbox
from accounts_common.web import create_api_app
from identity.entrypoints.schemas import NormalisedEmail

REPO = Path(__file__).resolve().parents[2]


def entrypoint_schemas() -> list[type[Schema]]:
    """Every marshmallow schema defined in a service's entrypoints package."""
    found = []
    for path in sorted(REPO.glob("services/*/src/*/entrypoints/*.py")):
        module = importlib.import_module(f"{path.parents[1].name}.entrypoints.{path.stem}")
        defined = [
            value for value in vars(module).values() if getattr(value, "__module__", "") == module.__name__
        ]
        found += [value for value in defined if isinstance(value, type) and issubclass(value, Schema)]
    return found


def test_every_schema_with_a_cross_field_rule_says_it_in_json_schema():
    ruled = [schema for schema in entrypoint_schemas() if schema._hooks.get("validates_schema")]
    assert ruled, "no schema with a @validates_schema rule found: the scan is broken"
    assert [schema.__name__ for schema in ruled if not getattr(schema, "JSON_SCHEMA_RULES", None)] == []


class Window(Schema):
    start = fields.Integer()
    end = fields.Integer()
    JSON_SCHEMA_RULES = {"dependentRequired": {"start": ["end"], "end": ["start"]}}

    @validates_schema
    def both_or_neither(self, data, **kwargs):  # type: ignore[no-untyped-def]
        if ("start" in data) != ("end" in data):
            raise ValidationError("both or neither")


def documented(schema: type[Schema]) -> dict[str, Any]:
    """The schema as the OpenAPI document of an app taking it as a request body shows it."""
    blp = Blueprint("things", __name__, url_prefix="/v1")

    @blp.route("/things")
    class Things(MethodView):
        @blp.arguments(schema)
        @blp.response(204)
        def post(self, body):  # type: ignore[no-untyped-def]
            return None

    app = create_api_app("things", blueprints=[blp], readiness_checks={})
    return dict(app.test_client().get("/openapi.json").json["components"]["schemas"][schema.__name__])


def test_the_document_carries_each_schemas_rules():
    assert documented(Window)["dependentRequired"] == Window.JSON_SCHEMA_RULES["dependentRequired"]


def patterns(field: fields.Field) -> list[str]:
    """The regular expressions a field (or a list's items) is validated with, as OpenAPI shows them."""
    found = [check.regex.pattern for check in field.validators if isinstance(check, validate.Regexp)]
    inner = getattr(field, "inner", None)
    return found + (patterns(inner) if isinstance(inner, fields.Field) else [])


def test_every_pattern_in_a_request_or_response_schema_is_ecma_262():
    """OpenAPI patterns are ECMA-262, as API clients' validators read them: Python's \\Z is no such
    regex (refused, or a literal Z no valid value ends with); WholeMatch gives `$` Python's meaning."""
    shown = {
        f"{schema.__name__}.{name}": pattern
        for schema in entrypoint_schemas()
        for name, field in schema._declared_fields.items()
        for pattern in patterns(field)
    }
    assert shown, "no pattern found: the scan is broken"
    refused = {}
    for where, pattern in shown.items():
        try:
            jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
        except jsonschema_rs.ValidationError as error:
            refused[where] = f"{pattern}: {str(error).splitlines()[0]}"
    assert refused == {}


class Addresses(Schema):
    recipient = Mailbox()
    email = NormalisedEmail()


def test_an_address_is_an_idn_email_in_the_document():
    """Identity accepts `josé@bücher.example`, and so do the other services' address fields: a client
    validating a request against the document must too, so an address is `idn-email` there (`email`
    is ASCII only), as in the event schemas."""
    shown = documented(Addresses)["properties"]
    assert {name: value["format"] for name, value in shown.items()} == {
        "recipient": "idn-email",
        "email": "idn-email",
    }
