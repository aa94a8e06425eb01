"""Reset password → code → create a new password (rules live, then checked by the server) → updated,
and the button back to the page the user started from."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, enter_code, log_in, mail_where, submit
from tests.support.browser import errors_next_to
from tests.support.inbox import code_in

NEW_PASSWORD = "Another-Horse-7?"


def test_reset_returns_the_user_to_the_page_they_started_from(portal, stack, journey, inbox, new_email):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)

    start = "/?q=summit"
    page.goto(portal.url + start)
    page.get_by_role("navigation").get_by_role("link", name="Log in").click()
    page.get_by_role("link", name="Forgot your password? Reset password").click()
    expect(page.locator("h1")).to_have_text("Reset password")
    page.locator("#email").fill(new_email)
    journey.step("reset-password")
    submit(page)
    expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
    expect(page.locator("main")).to_contain_text("Enter the code to reset your password.")
    journey.step("reset-code")

    reset_subject = "Reset password: your verification code"
    mail = mail_where(inbox, new_email, "the reset code", lambda m: m["subject"] == reset_subject)
    enter_code(journey, code_in(mail))
    expect(page.locator("h1")).to_have_text("Create a new password")
    page.locator("#password").fill("alllowercase")
    expect(page.locator("#password-rules li.met")).to_have_count(3)  # length, no spaces, lower case
    submit(page)
    expect(errors_next_to(page, "password")).to_contain_text("Include an uppercase letter.")
    journey.step("new-password-refused")
    page.locator("#password").fill(NEW_PASSWORD)
    submit(page)
    expect(page.locator("h1")).to_have_text("Your password has been updated")
    journey.step("password-updated")

    page.get_by_role("link", name="Return to the page you were on").click()
    expect(page).to_have_url(portal.url + start)
    mail_where(  # its link leads back to the same page
        inbox,
        new_email,
        "the password-updated mail leading back to the page",
        lambda m: m["subject"] == "Your password has been updated" and f"{start}&lang=en\n" in m["text"],
    )
    page.get_by_role("navigation").get_by_role("link", name="Log in").click()
    log_in(page, new_email, PASSWORD)
    expect(errors_next_to(page, "password")).to_have_text("The email or password is not right.")
    log_in(page, new_email, NEW_PASSWORD)
    expect(page).to_have_url(portal.url + start)
    expect(page.get_by_role("navigation").get_by_role("link", name="My account")).to_be_visible()


def test_a_wrong_reset_code_is_shown_next_to_the_field(portal, journey, inbox, new_email):
    page = journey.page
    page.goto(portal.url + "/password-reset")
    page.locator("#email").fill(new_email)  # unknown email: the same pages, no code mail
    submit(page)
    enter_code(journey, "123456")
    expect(errors_next_to(page, "code")).to_contain_text("This code is not right")
    journey.step("wrong-reset-code")


def test_a_new_code_asked_for_too_early_moves_the_focus_to_the_wait(portal, journey, new_email):
    page = journey.page
    page.goto(portal.url + "/password-reset")
    page.locator("#email").fill(new_email)
    submit(page)
    expect(page.get_by_role("button", name="Send new code")).to_be_disabled()
    # The page of another tab, or one whose countdown a suspended laptop left behind: sent anyway.
    page.locator("form[data-resend]").evaluate("form => form.submit()")
    refusal = page.locator("form[data-resend] [role=alert]")
    expect(refusal).to_contain_text("You can ask for a new code in")
    expect(page).to_have_title(re.compile("^Error: "))
    # No field is wrong: the focus goes to the message, which a screen reader then reads.
    expect(refusal).to_be_focused()
    journey.step("new-code-too-early-focused")
