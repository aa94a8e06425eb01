"""The newsletter's JSON API: a verified account's subscription, and the operators' issues."""

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint

from accounts_common.auth import current_principal, require_bearer
from accounts_common.authorization import authorize_role
from accounts_common.problems import Problem, document_problems
from accounts_common.roles import Role
from newsletter.domain.issues import Issue
from newsletter.entrypoints import schemas
from newsletter.entrypoints.http import BEARER_AUTH, newsletter
from newsletter.service_layer import issues, subscriptions
from newsletter.service_layer.subscriptions import AccountErased, Subscription

subscriptions_blp = Blueprint(
    "subscriptions", __name__, url_prefix="/v1/subscriptions", description="A verified account's subscription"
)
issues_blp = Blueprint(
    "issues", __name__, url_prefix="/v1/issues", description="Publishing issues, for operators"
)

TOKEN_PROBLEMS = {
    401: "No valid access token",
    403: "Unverified, revoked or deleted account",
    503: "identity's keys cannot be fetched right now",
}


def subscription_body(subscription: Subscription) -> dict[str, Any]:
    return {"subscribed": subscription.subscribed, "since": subscription.since}


@subscriptions_blp.route("")
class Subscriptions(MethodView):
    @require_bearer(verified=True)
    @subscriptions_blp.arguments(schemas.NoFields, required=False)
    @subscriptions_blp.response(201, schemas.SubscriptionStatus, description="Subscribed now")
    @subscriptions_blp.alt_response(200, schema=schemas.SubscriptionStatus, description="Already subscribed")
    @document_problems(subscriptions_blp, TOKEN_PROBLEMS)
    @subscriptions_blp.doc(security=BEARER_AUTH)
    def post(self, _body):  # type: ignore[no-untyped-def]
        """Subscribe the caller's verified account to the newsletter."""
        try:
            subscription, created = subscriptions.subscribe(newsletter(), current_principal())
        except AccountErased:
            raise Problem(403, "account-deleted", "This account was deleted.") from None
        return subscription_body(subscription), 201 if created else 200


@subscriptions_blp.route("/me")
class MySubscription(MethodView):
    @require_bearer(verified=True)
    @subscriptions_blp.response(200, schemas.SubscriptionStatus)
    @document_problems(subscriptions_blp, TOKEN_PROBLEMS)
    @subscriptions_blp.doc(security=BEARER_AUTH)
    def get(self):  # type: ignore[no-untyped-def]
        """Whether the caller is subscribed, and since when."""
        return subscription_body(subscriptions.status(newsletter(), current_principal().account_id))

    @require_bearer(verified=True)
    @subscriptions_blp.response(204)
    @document_problems(subscriptions_blp, TOKEN_PROBLEMS)
    @subscriptions_blp.doc(security=BEARER_AUTH)
    def delete(self):  # type: ignore[no-untyped-def]
        """Unsubscribe the caller (204 also when not subscribed)."""
        subscriptions.unsubscribe(newsletter(), current_principal().account_id, "user")


@issues_blp.before_request
def newsletter_editors_only() -> None:
    authorize_role(Role.NEWSLETTER_EDITOR)


OPERATOR_PROBLEMS = {
    401: "No valid access token",
    403: "role-required: not a newsletter editor; second-factor-required: logged in without a TOTP code",
}


def progress(issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "subject": issue.subject,
        "status": "complete" if issue.completed_at else "fanning_out",
        "requested": issue.requested,
        "total": issue.total,
        "created_at": issue.created_at,
        "completed_at": issue.completed_at,
    }


@issues_blp.route("")
class Issues(MethodView):
    @issues_blp.arguments(schemas.IssueDraft)
    @issues_blp.response(202, schemas.IssueProgress)
    @document_problems(
        issues_blp, {**OPERATOR_PROBLEMS, 413: "Body too large, or an issue too large to deliver"}
    )
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, draft):  # type: ignore[no-untyped-def]
        """Publish an issue: one delivery request per current subscriber is fanned out to the mailer."""
        try:
            issue = issues.publish_issue(
                newsletter(),
                draft["subject"],
                draft["text"],
                draft["html"],
                editor=current_principal().account_id,
            )
        except issues.IssueTooLarge:
            raise Problem(
                413, "issue-too-large", "Text and html together are too large for one delivery record."
            ) from None
        return progress(issue)


@issues_blp.route("/<uuid:issue_id>")
class IssueItem(MethodView):
    @issues_blp.response(200, schemas.IssueProgress)
    @document_problems(issues_blp, {**OPERATOR_PROBLEMS, 404: "No such issue"})
    @issues_blp.doc(security=BEARER_AUTH)
    def get(self, issue_id: UUID):  # type: ignore[no-untyped-def]
        """How far the issue's fan-out went: delivery requests acknowledged by Kafka, of the total."""
        issue = issues.find_issue(newsletter(), issue_id)
        if issue is None:
            raise Problem(404, "issue-not-found", "There is no issue with this id.")
        return progress(issue)
