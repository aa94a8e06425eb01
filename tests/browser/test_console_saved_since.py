"""Two tabs of a newsletter editor on one issue, in a real browser: the second save over the copy
both opened is refused, its text stays on the page with the message at the top, the link opens the
issue as saved in a new tab (the text kept in the browser is not put back over it there), and
saving again replaces the other save. Every page passes axe."""

import re
import uuid

from playwright.sync_api import expect

from tests.browser.test_console import staff_session
from tests.browser.test_console_drafts import drafts
from tests.support.polling import wait_for


def test_a_save_that_comes_second_keeps_its_text_says_so_and_saving_again_replaces_the_first(
    portal, stack, staff_admin, journey, inbox, new_email
):
    page = staff_session(journey, portal.url, stack, staff_admin, inbox, new_email, "newsletter-editor")
    page.goto(portal.url + "/console/newsletter/new")
    subject = f"December {uuid.uuid4().hex[:6]}"
    page.locator("#subject_en").fill(subject)
    page.locator("#body_en").fill("As opened.")
    page.get_by_role("button", name="Save the draft").click()
    expect(page).to_have_url(re.compile(r"/console/newsletter/[0-9a-f-]{36}$"))
    address = page.url

    other = page.context.new_page()  # another tab, on the same copy
    other.goto(address)
    other.locator("#body_en").fill("The other tab's text.")
    other.get_by_role("button", name="Save the draft").click()
    expect(other.get_by_role("status")).to_have_text("The draft is saved.")
    other.close()

    page.locator("#body_en").fill("This tab's text.")
    page.get_by_role("button", name="Save the draft").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("This issue was saved again after you opened it")
    expect(page.locator("#body_en")).to_have_value("This tab's text.")
    journey.step("save-came-second")
    page.locator("#body_en").fill("This tab's text, read again.")  # kept in the browser as it is typed
    key = "portal-draft:issue:" + address.rsplit("/", 1)[1]
    wait_for(lambda: key in drafts(page), timeout=5, what="the draft kept as it is typed")

    with page.context.expect_page() as opened:
        summary.get_by_role("link", name="See the issue as saved (in a new tab)").click()
    saved = opened.value
    expect(saved.locator("#body_en")).to_have_value("The other tab's text.")
    expect(saved.locator("[data-draft-notice]")).to_be_hidden()
    saved.close()

    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("status")).to_have_text("The draft is saved.")
    expect(page.locator("#body_en")).to_have_value("This tab's text, read again.")
