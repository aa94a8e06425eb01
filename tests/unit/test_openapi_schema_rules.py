"""A request schema's cross-field rule (`@validates_schema`) is invisible to apispec: each such schema
says it in JSON Schema too (`JSON_SCHEMA_RULES`), and the app's OpenAPI document carries it, so the
document never calls valid a body the API refuses."""

import importlib
from pathlib import Path

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validates_schema

from accounts_common.web import create_api_app

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


def test_the_document_carries_each_schemas_rules():
    blp = Blueprint("windows", __name__, url_prefix="/v1")

    @blp.route("/windows")
    class Windows(MethodView):
        @blp.arguments(Window)
        @blp.response(204)
        def post(self, body):  # type: ignore[no-untyped-def]
            return None

    app = create_api_app("rules", blueprints=[blp], readiness_checks={})
    document = app.test_client().get("/openapi.json").json
    assert (
        document["components"]["schemas"]["Window"]["dependentRequired"]
        == Window.JSON_SCHEMA_RULES["dependentRequired"]
    )
