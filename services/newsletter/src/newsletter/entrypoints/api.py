"""The newsletter's JSON API: a verified account's subscription, and the operators' issues."""

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from accounts_common.apidocs import BEARER_AUTH, NO_TOKEN, staff_problems
from accounts_common.auth import current_principal, require_bearer
from accounts_common.authorization import authorize_role, confirm_role_with_identity
from accounts_common.paging import envelope
from accounts_common.problems import document_problems
from accounts_common.roles import Role
from newsletter.domain.issues import IssueView
from newsletter.entrypoints import schemas
from newsletter.entrypoints.http import newsletter
from newsletter.service_layer import issues, subscriptions
from newsletter.service_layer.subscriptions import Subscription

subscriptions_blp = Blueprint(
    "subscriptions", __name__, url_prefix="/v1/subscriptions", description="A verified account's subscription"
)
issues_blp = Blueprint(
    "issues", __name__, url_prefix="/v1/issues", description="Issues, for newsletter editors"
)

TOKEN_PROBLEMS = {
    401: NO_TOKEN,
    403: "Unverified, revoked or deleted account",
    503: "identity's keys cannot be fetched right now",
}


def subscription_body(subscription: Subscription) -> dict[str, Any]:
    return {"subscribed": subscription.subscribed, "since": subscription.since, "reason": subscription.reason}


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
        subscription, created = subscriptions.subscribe(newsletter(), current_principal())
        return subscription_body(subscription), 201 if created else 200


@subscriptions_blp.route("/me")
class MySubscription(MethodView):
    @require_bearer(verified=True)
    @subscriptions_blp.response(200, schemas.SubscriptionStatus)
    @document_problems(subscriptions_blp, TOKEN_PROBLEMS)
    @subscriptions_blp.doc(security=BEARER_AUTH)
    def get(self):  # type: ignore[no-untyped-def]
        """Whether the caller is subscribed, and since when; if not, why the last subscription ended."""
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


OPERATOR_PROBLEMS = staff_problems(Role.NEWSLETTER_EDITOR)
ISSUE_PROBLEMS = {**OPERATOR_PROBLEMS, 404: "No such issue"}
CHANGED_PROBLEM = "issue-changed: the issue was edited since the `updated_at` given"
STATUS_PROBLEM = (
    "issue-status: the issue's status does not allow it (sending a sent issue, cancelling one that went)"
)
INCOMPLETE_PROBLEM = (
    "issue-incomplete: a language lacks its subject or body, or its body renders to nothing "
    "(`errors` names each)"
)
TOO_LARGE_PROBLEM = "issue-too-large: one delivery record of the issue would be too large for Kafka"
IDENTITY_PROBLEM = "identity-unavailable: identity, which confirms the role for sending, cannot be asked"


def issue_body(view: IssueView) -> dict[str, Any]:
    issue = view.issue
    return {
        "id": issue.id,
        "status": issue.status,
        "subject": issue.subjects,
        "body": issue.bodies,
        "send_at": issue.send_at,
        "created_at": issue.created_at,
        "started_at": issue.started_at,
        "completed_at": issue.completed_at,
        "updated_at": issue.updated_at,
        "held_because": issue.held_because,
        "figures": view.figures.as_dict(),
    }


def texts(draft: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    return dict(draft["subject"]), dict(draft["body"])


def editor_id() -> UUID:
    return current_principal().account_id


@issues_blp.route("")
class Issues(MethodView):
    @issues_blp.arguments(schemas.IssueQuery, location="query", unknown=RAISE)
    @issues_blp.response(200, schemas.IssueList)
    @document_problems(issues_blp, OPERATOR_PROBLEMS)
    @issues_blp.doc(security=BEARER_AUTH)
    def get(self, query):  # type: ignore[no-untyped-def]
        """A page of the issues, newest first, each with its status and figures (none past the last)."""
        listed, total = issues.list_issues(newsletter(), query["page"], query["per_page"])
        return envelope([issue_body(view) for view in listed], total, query["page"], query["per_page"])

    @issues_blp.arguments(schemas.IssueDraft)
    @issues_blp.response(201, schemas.IssueState)
    @document_problems(issues_blp, {**OPERATOR_PROBLEMS, 413: "Body too large"})
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, draft):  # type: ignore[no-untyped-def]
        """Write a draft, in Markdown, once per language."""
        return issue_body(issues.create_issue(newsletter(), *texts(draft), editor=editor_id()))


@issues_blp.route("/preview")
class IssuePreview(MethodView):
    @issues_blp.arguments(schemas.IssueDraft)
    @issues_blp.response(200, schemas.Preview)
    @document_problems(issues_blp, {**OPERATOR_PROBLEMS, 413: "Body too large"})
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, draft):  # type: ignore[no-untyped-def]
        """Each written language as it will be mailed (sanitised HTML and text part); nothing is stored."""
        return {language: vars(mail) for language, mail in issues.preview(*texts(draft)).items()}


@issues_blp.route("/<uuid:issue_id>")
class IssueItem(MethodView):
    @issues_blp.response(200, schemas.IssueState)
    @document_problems(issues_blp, ISSUE_PROBLEMS)
    @issues_blp.doc(security=BEARER_AUTH)
    def get(self, issue_id: UUID):  # type: ignore[no-untyped-def]
        """The issue, its status and its figures."""
        view = issues.find_issue(newsletter(), issue_id)
        if view is None:
            raise issues.IssueNotFound()
        return issue_body(view)

    @issues_blp.arguments(schemas.IssueRewrite)
    @issues_blp.response(200, schemas.IssueState)
    @document_problems(
        issues_blp,
        {
            **ISSUE_PROBLEMS,
            409: STATUS_PROBLEM + "; " + CHANGED_PROBLEM + ": nothing is written",
            413: "Body too large",
        },
    )
    @issues_blp.doc(security=BEARER_AUTH)
    def put(self, draft, issue_id: UUID):  # type: ignore[no-untyped-def]
        """Rewrite a draft's subjects and bodies; with `updated_at`, only over the copy the editor read."""
        view = issues.update_issue(
            newsletter(), issue_id, *texts(draft), editor_id(), read=draft.get("updated_at")
        )
        return issue_body(view)


@issues_blp.route("/<uuid:issue_id>/test")
class IssueTest(MethodView):
    @issues_blp.arguments(schemas.NoFields, required=False)
    @issues_blp.response(202, schemas.TestSent)
    @document_problems(
        issues_blp,
        {
            **ISSUE_PROBLEMS,
            413: TOO_LARGE_PROBLEM,
            422: "issue-incomplete: no language written yet, or one renders to nothing",
        },
    )
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, _body, issue_id: UUID):  # type: ignore[no-untyped-def]
        """Send each written language of the issue to the editor alone, at their account's address."""
        email, languages = issues.send_test(newsletter(), issue_id, current_principal())
        return {"email": email, "languages": languages}


@issues_blp.route("/<uuid:issue_id>/send")
class IssueSend(MethodView):
    @issues_blp.arguments(schemas.Sending, required=False)
    @issues_blp.response(202, schemas.IssueState)
    @document_problems(
        issues_blp,
        {
            **ISSUE_PROBLEMS,
            409: STATUS_PROBLEM + "; " + CHANGED_PROBLEM + ": nothing is sent",
            413: TOO_LARGE_PROBLEM,
            422: INCOMPLETE_PROBLEM + "; send-at-past: `send_at` is more than two minutes past",
            503: IDENTITY_PROBLEM,
        },
    )
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, sending, issue_id: UUID):  # type: ignore[no-untyped-def]
        """Send a draft to every subscriber now (status sending), or schedule it at `send_at`; with
        `updated_at`, only the copy the editor read. Nothing is sent on the newsletter's own reading of
        the editor's role: identity confirms it first (a revocation may still be on its way here)."""
        sending = sending or {}
        send_at, read = sending.get("send_at"), sending.get("updated_at")
        confirm_role_with_identity(Role.NEWSLETTER_EDITOR)
        view = issues.send_issue(newsletter(), issue_id, current_principal(), send_at, read=read)
        return issue_body(view)


@issues_blp.route("/<uuid:issue_id>/cancel")
class IssueCancel(MethodView):
    @issues_blp.arguments(schemas.NoFields, required=False)
    @issues_blp.response(200, schemas.IssueState)
    @document_problems(issues_blp, {**ISSUE_PROBLEMS, 409: STATUS_PROBLEM})
    @issues_blp.doc(security=BEARER_AUTH)
    def post(self, _body, issue_id: UUID):  # type: ignore[no-untyped-def]
        """Cancel a draft or a scheduled issue, before it goes."""
        return issue_body(issues.cancel_issue(newsletter(), issue_id, editor_id()))
