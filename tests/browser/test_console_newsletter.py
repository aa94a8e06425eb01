"""The console's Newsletter page in a real browser: a newsletter editor (granted by an admin, with
two-step verification) writes an issue in both languages side by side, sees the live preview of
each and the preview without script, saves it, test-sends it (only the editor receives it),
schedules it, finds it in the list with its status and figures, and cancels it. Every page passes axe.

And issue #22's "Done when" from start to end: the issue scheduled in the console reaches an English
and a French subscriber in their language at its time and not before, a third subscriber whose
address the SMTP sink refuses with 550 ends unsubscribed with reason `bounce`, and the console's
figures read recipients 3, sent 2, bounced 1 — each plus the subscribers earlier tests left on the
shared stack, who get the issue too (tests/e2e/test_newsletter_editors.py counts on a newsletter of
its own: exactly 3)."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.flows import mail_where
from tests.browser.test_console import staff_session
from tests.e2e.conftest import verified_account
from tests.support.browser import Journey
from tests.support.http import call
from tests.support.inbox import Inbox
from tests.support.polling import wait_for

FIGURES = ("recipients", "sent", "failed", "bounced", "unsubscribed")
BODIES = {
    "en": "# New this month\n\nThe **Defence Ministers' meeting** in [video](https://portal.example.org/v/1).",
    "fr": "# Nouveau ce mois-ci\n\nLa **réunion des ministres** en [vidéo](https://portal.example.org/v/1).",
}


def editor_on_the_newsletter_page(  # type: ignore[no-untyped-def]
    portal, stack, staff_admin, journey: Journey, inbox: Inbox, email: str
) -> None:
    """A new account, granted newsletter-editor by an admin, logged in with two-step
    verification, on the console's Newsletter page."""
    page = staff_session(journey, portal.url, stack, staff_admin, inbox, email, "newsletter-editor")
    page.goto(portal.url + "/console")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Newsletter").click()
    expect(page.locator("h1")).to_have_text("Newsletter")


def test_an_editor_writes_previews_tests_schedules_and_cancels_an_issue(
    portal, stack, staff_admin, journey, inbox, new_email
):
    page = journey.page
    editor_on_the_newsletter_page(portal, stack, staff_admin, journey, inbox, new_email)
    journey.step("newsletter-issues")

    page.get_by_role("link", name="Write a new issue").click()
    subject = f"December {uuid.uuid4().hex[:6]}"
    page.locator("#subject_en").fill(subject)
    page.locator("#body_en").fill("The **ministers' meeting** in [video](https://portal.example.org/v/1).")
    page.locator("#subject_fr").fill(f"{subject} (fr)")
    page.locator("#body_fr").fill("La **réunion des ministres** en vidéo.")
    expect(page.locator("[data-preview=fr] .mail-html strong")).to_have_text("réunion des ministres")
    expect(page.locator("[data-preview=en] .mail-html a")).to_have_attribute(
        "href", "https://portal.example.org/v/1"
    )
    journey.step("editor-live-preview")
    page.locator("#body_en").fill("<script>alert(1)</script> *Now*")
    page.get_by_role("button", name="Preview", exact=True).click()  # the path without script
    expect(page.locator("[data-preview=en] .mail-html em")).to_have_text("Now")
    expect(page.locator("[data-preview=en] .mail-html")).to_contain_text("<script>alert(1)</script>")
    journey.step("editor-preview-without-script")

    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("status")).to_have_text("The draft is saved.")
    expect(page.locator("dd[data-status]")).to_have_text("Draft")
    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_role("status")).to_contain_text(new_email)
    test_mail = mail_where(inbox, new_email, "the test", lambda m: m["subject"] == subject)
    assert "Now" in test_mail["text"]
    journey.step("tested")

    schedule(page, timedelta(hours=1))
    journey.step("scheduled")

    page.get_by_role("link", name="Back to the issues").click()
    row = page.locator("tr[data-issue]", has_text=subject)
    expect(row.locator("td[data-status]")).to_contain_text("Scheduled")
    row.get_by_role("link").click()
    page.get_by_role("button", name="Cancel the issue").click()
    expect(page.get_by_role("alert")).to_contain_text("Cancel this issue?")
    expect(page.get_by_role("alert")).to_be_focused()  # the question is read, and the answer a Tab away
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("status")).to_have_text("The issue is cancelled: it will not be sent.")
    expect(page.locator("dd[data-status]")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name=re.compile("Send me a test|Save the draft"))).to_have_count(0)
    journey.step("cancelled")
    assert [m["subject"] for m in inbox.messages(new_email)].count(subject) == 1, (
        "only the test, to the editor"
    )


def subscribed_reader(stack, newsletter_url: str, inbox: Inbox, email: str, locale: str | None = None) -> str:
    """A verified account (in `locale`, when given) subscribed to the newsletter; its access token."""
    token = verified_account(stack.identity_url, inbox, email, locale)
    status, body = call(
        "POST", f"{newsletter_url}/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 201, body
    return token


def subscription_of(newsletter_url: str, token: str) -> tuple[bool, str | None]:
    status, body = call(
        "GET", f"{newsletter_url}/v1/subscriptions/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    return body["subscribed"], body.get("reason")


def issue_mails(inbox: Inbox, email: str, subjects: set[str]) -> list[dict]:  # type: ignore[type-arg]
    return [mail for mail in inbox.messages(email) if mail["subject"] in subjects]


def received_at(mail: dict) -> datetime:  # type: ignore[type-arg]
    return datetime.fromisoformat(mail["received_at"].replace("Z", "+00:00"))


def figures_shown(page: Page) -> dict[str, str]:
    return {name: page.locator(f"dd[data-figure={name}]").inner_text() for name in FIGURES}


def counted_issue(page: Page) -> dict[str, int] | None:
    """The issue page's figures once the issue is sent and every recipient's result counted, as the
    page shows them: it follows them on its own, never reloaded."""
    # The status first: figures read after it are a sent issue's. Read before it, they could be the
    # scheduled issue's zeros, the page updating in between.
    done = page.locator("dd[data-status]").get_attribute("data-status") == "sent"
    figures = {name: int(value) for name, value in figures_shown(page).items()}
    counted = figures["sent"] + figures["failed"] + figures["bounced"]
    return figures if done and counted == figures["recipients"] else None


def write_with_live_previews(journey: Journey, subjects: dict[str, str], bodies: dict[str, str]) -> None:
    """On the Newsletter page: a new issue written in both languages, each previewed live, saved."""
    page = journey.page
    page.get_by_role("link", name="Write a new issue").click()
    for language in ("en", "fr"):
        page.locator(f"#subject_{language}").fill(subjects[language])
        page.locator(f"#body_{language}").fill(bodies[language])
    english_preview, french_preview = page.locator("[data-preview=en]"), page.locator("[data-preview=fr]")
    expect(english_preview.locator("h3")).to_contain_text(subjects["en"])
    expect(english_preview.locator(".mail-html strong")).to_have_text("Defence Ministers' meeting")
    expect(french_preview.locator("h3")).to_contain_text(subjects["fr"])
    expect(french_preview.locator(".mail-html strong")).to_have_text("réunion des ministres")
    journey.step("written-and-previewed")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.locator("dd[data-status]")).to_have_text("Draft")


def schedule(page: Page, ahead: timedelta) -> datetime:
    """The issue scheduled from its page, `ahead` of now to the second; the time it is due. The field
    shows minutes, but takes seconds as the portal and the newsletter do: no wait for a whole minute."""
    send_at = (datetime.now(UTC) + ahead).replace(microsecond=0)
    page.locator("#send_at").fill(send_at.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Send or schedule").click()
    page.get_by_role("button", name="Yes, schedule it").click()
    expect(page.get_by_role("status")).to_have_text("The issue is scheduled.")
    expect(page.locator("dd[data-status]")).to_contain_text("Scheduled")
    return send_at


def test_a_scheduled_issue_reaches_each_reader_in_their_language_at_its_time_and_a_550_ends_a_subscription(
    portal, stack, staff_admin, journey, inbox, new_email
):
    page = journey.page
    tag = uuid.uuid4().hex[:8]
    english, french, refused = (f"{who}-{tag}@example.org" for who in ("reader", "lectrice", "refused"))
    readers = {
        english: subscribed_reader(stack, portal.newsletter_url, inbox, english),
        french: subscribed_reader(stack, portal.newsletter_url, inbox, french, locale="fr"),
        refused: subscribed_reader(stack, portal.newsletter_url, inbox, refused),
    }
    subjects = {"en": f"December at the video portal {tag}", "fr": f"Décembre sur le portail vidéo {tag}"}
    editor_on_the_newsletter_page(portal, stack, staff_admin, journey, inbox, new_email)

    write_with_live_previews(journey, subjects, BODIES)

    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_role("status")).to_contain_text(new_email)
    for subject in subjects.values():
        mail_where(inbox, new_email, f"the test {subject!r}", lambda m, s=subject: m["subject"] == s)
    assert not any(issue_mails(inbox, reader, set(subjects.values())) for reader in readers), (
        "the test goes to the editor alone"
    )
    journey.step("tested")

    inbox.set_fault(550, f"5.1.1 <{refused}>: Recipient address rejected: User unknown", recipients=refused)
    try:
        # Far enough ahead for a busy machine's clicks to schedule it before it is due.
        send_at = schedule(page, timedelta(seconds=20))
        assert datetime.now(UTC) < send_at
        journey.step("scheduled")
        assert not any(issue_mails(inbox, reader, set(subjects.values())) for reader in readers)

        english_mail = wait_for(
            lambda: issue_mails(inbox, english, {subjects["en"]}), timeout=180, what="the English issue"
        )[0]
        french_mail = wait_for(
            lambda: issue_mails(inbox, french, {subjects["fr"]}), timeout=30, what="the French issue"
        )[0]
        figures = wait_for(lambda: counted_issue(page), timeout=90, what="the figures", interval=0.2)
    finally:
        inbox.clear_fault(refused)
    others = figures["recipients"] - len(readers)  # earlier tests' subscribers: all take mail
    assert others >= 0, figures
    expected = {"recipients": 3 + others, "sent": 2 + others, "failed": 0, "bounced": 1, "unsubscribed": 0}
    assert figures == expected
    journey.step("sent-and-counted")

    assert "<strong>Defence Ministers' meeting</strong>" in english_mail["html"]
    assert "La réunion des ministres en vidéo <https://portal.example.org/v/1>" in french_mail["text"]
    delivered = {reader: issue_mails(inbox, reader, set(subjects.values())) for reader in (english, french)}
    assert {reader: {mail["subject"] for mail in mails} for reader, mails in delivered.items()} == {
        english: {subjects["en"]},
        french: {subjects["fr"]},
    }, "each reader in their language only"
    assert all(received_at(mail) >= send_at for mails in delivered.values() for mail in mails), (
        "not before the scheduled time"
    )
    assert not issue_mails(inbox, refused, set(subjects.values()))
    assert subscription_of(portal.newsletter_url, readers[refused]) == (False, "bounce")
    assert subscription_of(portal.newsletter_url, readers[english])[0] is True
    assert subscription_of(portal.newsletter_url, readers[french])[0] is True

    page.get_by_role("link", name="Back to the issues").click()
    row = page.locator("tr[data-issue]", has_text=subjects["en"])
    expect(row.locator("td[data-status]")).to_have_text("Sent")
    assert {name: int(row.locator(f"td[data-figure={name}]").inner_text()) for name in FIGURES} == figures
    journey.step("issues-with-figures")
