"""The mailer's HTTP endpoints for support staff: where a person's emails went, and the dead letters."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from kafka.errors import KafkaError
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from accounts_common.apidocs import BEARER_AUTH, staff_problems
from accounts_common.authorization import authorize_role
from accounts_common.dlq import ReplayFailed
from accounts_common.kafka import REFUSED, not_authorized
from accounts_common.problems import Problem, document_problems
from accounts_common.roles import Role
from accounts_common.textfields import Mailbox
from mailer.service_layer.support import Support

blp = Blueprint(
    "deliveries", __name__, url_prefix="/v1", description="Deliveries and dead letters, for support"
)

PROBLEMS = staff_problems(Role.SUPPORT)
log = logging.getLogger(__name__)
UNAVAILABLE = (
    "dead-letters-unavailable: Kafka did not answer, refused the mailer's login or ACLs, lists no "
    "dead-letter topic to it, or stopped a replay part way"
)
NO_SUCH_LETTER = "unknown-dead-letter: no letter at that partition and offset"


class DeliveryQuery(Schema):
    email = Mailbox(required=True, validate=validate.Length(max=254))


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


class DeadLetterView(Schema):
    partition = fields.Integer(required=True)
    offset = fields.Integer(required=True, metadata={"description": "With `partition`, names the letter."})
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    subject = fields.String(required=True, metadata={"description": "The event's subject (an account id)."})
    original_topic = fields.String(required=True)
    reason = fields.String(required=True, metadata={"description": "Why the mailer gave up on it."})
    failed_at = fields.String(required=True)


class DeadLetterList(Schema):
    items = fields.List(
        fields.Nested(DeadLetterView), required=True, metadata={"description": "Oldest first"}
    )
    more = fields.Boolean(
        required=True,
        metadata={
            "description": "More dead letters are left out, past the 500 oldest listed (a replay of all "
            "of them replays those too)"
        },
    )


class ReplayRequest(Schema):
    # Absent, not null, for "all": a null was documented as valid, then refused by both_or_neither.
    partition = fields.Integer(validate=validate.Range(min=0, max=10_000))
    offset = fields.Integer(validate=validate.Range(min=0))
    # both_or_neither, as the OpenAPI document says it (accounts_common.web.document_schema_rules).
    JSON_SCHEMA_RULES = {"dependentRequired": {"partition": ["offset"], "offset": ["partition"]}}

    @validates_schema
    def both_or_neither(self, data, **kwargs):  # type: ignore[no-untyped-def]
        if ("partition" in data) != ("offset" in data):
            raise ValidationError("Give both partition and offset (one letter), or neither (all).")


class Replayed(Schema):
    replayed = fields.Integer(required=True)


def support() -> Support:
    return current_app.extensions["support"]  # type: ignore[no-any-return]


@contextmanager
def kafka_answers() -> Iterator[None]:
    """Dead letters live in Kafka: when it does not answer, a 503 problem says so (retry later); when
    it refuses the mailer's login or ACLs, lists no dead-letter topic or takes no letter back, the
    problem and the log say that: an operator must act."""
    try:
        yield
    except REFUSED as error:
        refused = not_authorized("mailer web", error)
        log.error("%s", refused)
        raise Problem(503, "dead-letters-unavailable", str(refused)) from None
    except ReplayFailed as error:  # no dead-letter topic to read, or letters Kafka would not take back
        log.error("mailer web: dead letters: %s", error)
        raise Problem(503, "dead-letters-unavailable", str(error)) from None
    except KafkaError as error:
        raise Problem(503, "dead-letters-unavailable", f"Kafka did not answer: {error}") from None


@blp.before_request
def support_only() -> None:
    authorize_role(Role.SUPPORT)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuery, location="query", unknown=RAISE)
    @blp.response(200, DeliveryList)
    @blp.doc(security=BEARER_AUTH)
    @document_problems(blp, PROBLEMS)
    def get(self, query):  # type: ignore[no-untyped-def]
        """The newest deliveries to one address: status, attempts and the last error (audited)."""
        found = support().deliveries_to(query["email"], g.principal.account_id)
        return {"items": [asdict(delivery) for delivery in found]}


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @blp.response(200, DeadLetterList)
    @blp.doc(security=BEARER_AUTH)
    @document_problems(blp, {**PROBLEMS, 503: UNAVAILABLE})
    def get(self):  # type: ignore[no-untyped-def]
        """The emails the mailer gave up on, with the reason, not yet replayed (nor sent since): the
        500 oldest, and whether there are more (each letter listed is audited as read)."""
        with kafka_answers():
            letters, more = support().dead_letters(g.principal.account_id)
        return {"items": [asdict(letter) for letter in letters], "more": more}


@blp.route("/dead-letters/replays")
class DeadLetterReplays(MethodView):
    @blp.arguments(ReplayRequest)
    @blp.response(200, Replayed)
    @blp.doc(security=BEARER_AUTH)
    @document_problems(blp, {**PROBLEMS, 404: NO_SUCH_LETTER, 503: UNAVAILABLE})
    def post(self, body):  # type: ignore[no-untyped-def]
        """Put one dead letter (partition and offset) or all of them back on their topics, once the
        cause is fixed; the mailer deduplicates by event id, so nothing is sent twice (audited)."""
        actor = g.principal.account_id
        with kafka_answers():
            if "partition" not in body:
                return {"replayed": support().replay_all(actor)}
            letter = support().replay_one(body["partition"], body["offset"], actor)
        if letter is None:
            raise Problem(404, "unknown-dead-letter", "No dead letter has that partition and offset.")
        return {"replayed": 1}
