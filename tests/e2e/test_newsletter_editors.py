"""An editor's issue through running processes (identity, a newsletter of its own, the stack's mailer,
the SMTP sink): written in two languages, previewed, test-sent to the editor alone, scheduled; each
subscriber gets their language at the scheduled time and not before, an address the sink refuses with
550 bounces and ends its subscription, and the issue's figures come back from the mailer's results."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from accounts_common.events.topics import DELIVERY_RESULTS, OPERATOR_ACTIONS
from tests.conftest import Infra, Stack
from tests.e2e.conftest import PORTAL_URL, Newsletter, stack_staff_header, start_newsletter, verified_account
from tests.e2e.mail_helpers import headers_of
from tests.support.http import call
from tests.support.kafka import TopicReader
from tests.support.outbox import outbox_records
from tests.support.polling import wait_for
from tests.support.processes import run_once
from tests.support.staff import STAFF_PASSWORD, AdminGrants

ISSUE = {
    "subject": {"en": "December at the video portal", "fr": "Décembre sur le portail vidéo"},
    "body": {
        "en": "# New this month\n\nThe **Defence Ministers' meeting** in [video](https://portal.example.org/v/1)."
        f" [Your account]({PORTAL_URL}/account)",
        "fr": "# Nouveau ce mois-ci\n\nLa **réunion des ministres** en [vidéo](https://portal.example.org/v/1)."
        f" [Votre compte]({PORTAL_URL}/account)",
    },
}
# Ahead of the one call that schedules it and the look that no reader has it yet, each well under a second.
SCHEDULED_AHEAD = timedelta(seconds=10)


@pytest.fixture(scope="module")
def editors_newsletter(
    stack: Stack, infra: Infra, staff_admin: AdminGrants, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Newsletter]:
    """A newsletter of this module's own (its subscribers only) on the stack's topics, beside the stack."""
    editor = stack_staff_header(stack, infra, staff_admin, "newsletter-editor")
    logs = tmp_path_factory.mktemp("editors-logs")
    running = start_newsletter(
        infra,
        logs,
        stack.identity_url,
        editor,
        name="editors",
        topic_prefix=stack.topic_prefix,
        PORTAL_URL=PORTAL_URL,
    )
    try:
        yield running
    finally:
        running.stop()


def claims(token: str) -> dict:  # type: ignore[type-arg]
    return jwt.decode(token, options={"verify_signature": False})


def mails_titled(infra: Infra, email: str, subject: str) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in infra.inbox.messages(email) if m["subject"] == subject]


def received_at(mail: dict) -> datetime:  # type: ignore[type-arg]
    return datetime.fromisoformat(mail["received_at"].replace("Z", "+00:00"))


def test_an_issue_in_two_languages_is_previewed_tested_scheduled_and_counted_and_a_550_ends_a_subscription(
    stack, editors_newsletter, infra
):
    newsletter = editors_newsletter
    tag = uuid.uuid4().hex[:8]
    english, french, refused = (f"{who}-{tag}@example.org" for who in ("reader", "lectrice", "refused"))
    tokens = {
        english: verified_account(stack.identity_url, infra.inbox, english),
        french: verified_account(stack.identity_url, infra.inbox, french, locale="fr"),
        refused: verified_account(stack.identity_url, infra.inbox, refused),
    }
    for token in tokens.values():
        newsletter.subscribe(token)
    french_id = claims(tokens[french])["sub"]
    newsletter.wait_for_locale(french_id, "fr")
    results = TopicReader(infra.kafka, stack.topic(DELIVERY_RESULTS))
    infra.inbox.set_fault(
        550, f"5.1.1 <{refused}>: Recipient address rejected: User unknown", recipients=refused
    )
    try:
        status, issue = newsletter.editor_call("POST", "/v1/issues", ISSUE)
        assert (status, issue["status"]) == (201, "draft"), issue

        status, preview = newsletter.editor_call("POST", "/v1/issues/preview", ISSUE)
        assert status == 200
        assert "<strong>réunion des ministres</strong>" in preview["fr"]["html"]
        assert "video <https://portal.example.org/v/1>" in preview["en"]["text"]
        assert (
            f"Your account <{PORTAL_URL}/account>" in preview["en"]["text"]
        )  # the editor's pages keep theirs

        status, tested = newsletter.editor_call("POST", f"/v1/issues/{issue['id']}/test")
        assert status == 202, tested
        editor_email = tested["email"]
        for subject in ISSUE["subject"].values():
            wait_for(
                lambda s=subject: mails_titled(infra, editor_email, s),
                timeout=30,
                what=f"the test {subject!r}",
            )

        send_at = datetime.now(UTC) + SCHEDULED_AHEAD
        status, scheduled = newsletter.editor_call(
            "POST", f"/v1/issues/{issue['id']}/send", {"send_at": send_at.isoformat()}
        )
        assert (status, scheduled["status"]) == (202, "scheduled"), scheduled
        assert all(not mails_titled(infra, email, ISSUE["subject"]["en"]) for email in (english, refused)), (
            "only the editor got the test"
        )
        assert not mails_titled(infra, french, ISSUE["subject"]["fr"])

        english_mail = wait_for(
            lambda: mails_titled(infra, english, ISSUE["subject"]["en"]), timeout=90, what="the English issue"
        )[0]
        french_mail = wait_for(
            lambda: mails_titled(infra, french, ISSUE["subject"]["fr"]), timeout=30, what="the French issue"
        )[0]
        assert received_at(english_mail) >= send_at and received_at(french_mail) >= send_at, "not before"
        assert "<strong>Defence Ministers' meeting</strong>" in english_mail["html"]
        assert "La réunion des ministres en vidéo <https://portal.example.org/v/1>" in french_mail["text"]
        # A link into the portal opens it in the mail's language; another site's is left as written.
        assert f"Votre compte <{PORTAL_URL}/account?lang=fr>" in french_mail["text"]
        assert f'href="{PORTAL_URL}/account?lang=en"' in english_mail["html"]
        assert headers_of(french_mail)["list-unsubscribe"].split(",")[0].strip("<> ").endswith("&lang=fr")

        def figures_complete():  # type: ignore[no-untyped-def]
            status, state = newsletter.editor_call("GET", f"/v1/issues/{issue['id']}")
            figures = state["figures"]
            return state if state["status"] == "sent" and figures["sent"] + figures["bounced"] == 3 else None

        done = wait_for(figures_complete, timeout=90, what="the issue's figures from the mailer's results")
        results.read_until(
            lambda _: any(
                e["type"] == "EmailFailed" and e["data"]["email"] == refused and e["data"]["class"] == "hard"
                for e in results.events()
            ),
            timeout=30,
            what="the mailer's EmailFailed (hard) on its results topic",
        )
    finally:
        infra.inbox.clear_fault(refused)
        results.close()
    assert done["figures"] == {"recipients": 3, "sent": 2, "failed": 0, "bounced": 1, "unsubscribed": 0}
    assert datetime.fromisoformat(done["started_at"]) >= send_at
    assert not mails_titled(infra, refused, ISSUE["subject"]["en"])
    status, subscription = call(
        "GET", f"{newsletter.url}/v1/subscriptions/me", headers={"Authorization": f"Bearer {tokens[refused]}"}
    )
    assert (status, subscription["subscribed"], subscription["reason"]) == (200, False, "bounce")
    for email in (english, french):
        status, subscription = call(
            "GET",
            f"{newsletter.url}/v1/subscriptions/me",
            headers={"Authorization": f"Bearer {tokens[email]}"},
        )
        assert subscription["subscribed"] is True
    status, listed = newsletter.editor_call("GET", "/v1/issues")
    assert [item["figures"] for item in listed["items"] if item["id"] == issue["id"]] == [done["figures"]]


def issue_state(newsletter: Newsletter, issue_id: str) -> dict:  # type: ignore[type-arg]
    status, state = newsletter.editor_call("GET", f"/v1/issues/{issue_id}")
    assert status == 200, state
    return state  # type: ignore[no-any-return]


@pytest.mark.parametrize("loses", ["role-revoked", "account-deleted"])
def test_an_issue_scheduled_by_an_editor_who_loses_the_role_or_account_goes_back_to_draft_for_another(
    stack, editors_newsletter, infra, staff_admin, loses
):
    """A scheduled issue goes out on the authority of the editor who scheduled it: once identity says they
    lost the role (here from the command line) or their account, it is a draft again, with why, audited,
    and another editor schedules it."""
    newsletter = editors_newsletter
    leaving = stack_staff_header(stack, infra, staff_admin, "newsletter-editor")
    token = leaving["Authorization"].removeprefix("Bearer ")
    status, issue = call("POST", f"{newsletter.url}/v1/issues", ISSUE, leaving)
    assert status == 201, issue
    send_at = datetime.now(UTC) + timedelta(hours=1)
    status, scheduled = call(
        "POST", f"{newsletter.url}/v1/issues/{issue['id']}/send", {"send_at": send_at.isoformat()}, leaving
    )
    assert (status, scheduled["status"], scheduled["held_because"]) == (202, "scheduled", None), scheduled

    if loses == "role-revoked":
        run_once(
            ["identity", "staff", "revoke", claims(token)["email"], "newsletter-editor"], stack.identity_env
        )
    else:
        status, body = call(
            "DELETE", f"{stack.identity_url}/v1/accounts/me", {"password": STAFF_PASSWORD}, leaving
        )
        assert status == 204, body
    held = wait_for(
        lambda: (state := issue_state(newsletter, issue["id"]))["status"] == "draft" and state,
        timeout=60,
        what=f"the issue back to draft ({loses})",
    )
    assert (held["held_because"], held["send_at"]) == (loses, None)
    [entry] = [
        record["data"]
        for record in outbox_records(newsletter.database_url, topic=OPERATOR_ACTIONS)
        if record["data"]["action"] == "issue.unscheduled" and issue["id"] in record["data"]["target"]
    ]
    # From the command line: no actor; a deletion: the account deleted, theirs the authority that ended.
    expected_actor = None if loses == "role-revoked" else claims(token)["sub"]
    assert (entry["actor_account_id"], entry["outcome"]) == (expected_actor, "ok")

    status, again = newsletter.editor_call(
        "POST",
        f"/v1/issues/{issue['id']}/send",
        {"send_at": send_at.isoformat(), "updated_at": held["updated_at"]},
    )
    assert (status, again["status"], again["held_because"]) == (202, "scheduled", None), again
    status, _ = newsletter.editor_call(
        "POST", f"/v1/issues/{issue['id']}/cancel"
    )  # not mailed to this module's readers
    assert status == 200
