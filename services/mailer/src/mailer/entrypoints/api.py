"""The mailer's HTTP endpoints for operators: where a user's emails went."""

from dataclasses import asdict

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from accounts_common.authorization import authorize_role
from accounts_common.roles import Role
from mailer.adapters.deliveries import DeliveryLog

blp = Blueprint(
    "deliveries", __name__, url_prefix="/v1/deliveries", description="Delivery status, for operators"
)


class DeliveryQuery(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class DeliveryView(Schema):
    event_id = fields.UUID()
    kind = fields.String()
    status = fields.String(
        metadata={"description": "sending | sent | retrying | failed | skipped (last_error says why)"}
    )
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)


class DeliveryList(Schema):
    items = fields.List(fields.Nested(DeliveryView))


@blp.before_request
def support_only() -> None:
    authorize_role(Role.SUPPORT)


@blp.route("")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuery, location="query", unknown=RAISE)
    @blp.response(200, DeliveryList)
    def get(self, query):  # type: ignore[no-untyped-def]
        """The newest deliveries to one address: status, attempts and the last error."""
        delivery_log: DeliveryLog = current_app.extensions["delivery_log"]
        return {"items": [asdict(delivery) for delivery in delivery_log.for_recipient(query["email"])]}
