"""The console's Newsletter page in a real browser: a newsletter editor (granted from the command line,
with two-step verification) writes an issue in both languages side by side, sees the live preview of
each and the preview without script, saves it, test-sends it (only the editor receives it),
schedules it, finds it in the list with its status and figures, and cancels it. Every page passes axe."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import log_in, mail_where, sign_up
from tests.browser.test_console import log_in_with_code, set_up_two_step
from tests.support.browser import assert_accessible
from tests.support.processes import run_once


def test_an_editor_writes_previews_tests_schedules_and_cancels_an_issue(
    portal, stack, journey, inbox, new_email
):
    page = journey.page
    page.goto(portal.url + "/")
    sign_up(journey, inbox, new_email, PASSWORD)
    run_once(["identity", "staff", "grant", new_email, "newsletter-editor"], stack.identity_env)
    page.goto(portal.url + "/console")
    log_in(page, new_email, PASSWORD)
    enrolment = set_up_two_step(journey, portal.url)
    log_in_with_code(journey, portal.url, new_email, enrolment)
    page.goto(portal.url + "/console")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Newsletter").click()
    expect(page.locator("h1")).to_have_text("Newsletter")
    assert_accessible(page, "newsletter issues")
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
    assert_accessible(page, "issue editor with its live preview")
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

    send_at = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    page.locator("#send_at").fill(send_at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Send or schedule").click()
    expect(page.get_by_role("status")).to_have_text("The issue is scheduled.")
    expect(page.locator("dd[data-status]")).to_contain_text("Scheduled")
    assert_accessible(page, "scheduled issue")
    journey.step("scheduled")

    page.get_by_role("link", name="Back to the issues").click()
    row = page.locator("tr[data-issue]", has_text=subject)
    expect(row.locator("td[data-status]")).to_contain_text("Scheduled")
    row.get_by_role("link").click()
    page.get_by_role("button", name="Cancel the issue").click()
    expect(page.get_by_role("status")).to_have_text("The issue is cancelled: it will not be sent.")
    expect(page.locator("dd[data-status]")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name=re.compile("Send me a test|Save the draft"))).to_have_count(0)
    journey.step("cancelled")
    assert [m["subject"] for m in inbox.messages(new_email)].count(subject) == 1, (
        "only the test, to the editor"
    )
