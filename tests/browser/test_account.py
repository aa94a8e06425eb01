"""My account (email, newsletter, deletion with the password), CSRF refusals, and the pages that
say when a service is unavailable instead of failing."""

import uuid

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, log_in, logged_in, submit
from tests.support.browser import errors_next_to
from tests.support.newsletter import issue_in_both_languages, send_issue
from tests.support.polling import wait_for


def test_my_account_shows_the_email_and_deletes_the_account_with_its_password(
    portal, stack, journey, inbox, new_email
):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    logged_in(page, portal.url, new_email, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="My account").click()
    expect(page.locator("h1")).to_have_text("My account")
    expect(page.locator("main")).to_contain_text(new_email)
    expect(page.locator("main")).to_contain_text("You are not subscribed to our newsletter.")
    journey.step("my-account")

    page.locator("#delete_password").fill("Not-The-Password-1!")
    page.get_by_role("button", name="Delete my account").click()
    expect(errors_next_to(page, "delete_password")).to_have_text("The password is not right.")
    journey.step("delete-refused")
    page.locator("#delete_password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".notice")).to_have_text("Your account has been deleted.")
    journey.step("account-deleted")

    page.goto(portal.url + "/login")
    log_in(page, new_email, PASSWORD)
    expect(errors_next_to(page, "password")).to_have_text("The email or password is not right.")


def test_the_account_page_asks_to_log_in_and_comes_back(portal, stack, journey, inbox, new_email):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    page.goto(portal.url + "/account")
    expect(page.locator("h1")).to_have_text("Log in")
    journey.step("log-in")
    log_in(page, new_email, PASSWORD)
    expect(page).to_have_url(portal.url + "/account")


def test_a_form_posted_without_its_csrf_token_is_refused(portal, journey, inbox, new_email):
    page = journey.page
    page.goto(portal.url + "/login")
    for form in ({"email": new_email, "password": PASSWORD}, {"email": new_email, "csrf_token": "forged"}):
        response = page.request.post(portal.url + "/login", form=form)
        assert response.status == 400
        assert "This form has expired" in response.text()
    page.evaluate("() => document.querySelector('main form input[name=csrf_token]').remove()")
    page.locator("#email").fill(new_email)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator("h1")).to_have_text("This form has expired. Go back, reload the page and try again.")
    journey.step("csrf-refused")


def test_an_unknown_page_is_a_page_that_says_so(portal, journey):
    # A service that does not answer is shown as "unavailable" (tests/unit/test_portal.py).
    page = journey.page
    response = page.goto(portal.url + "/no-such-page")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("This page does not exist.")
    journey.step("not-found")


def test_newsletter_on_and_off_from_my_account(portal, stack, journey, inbox, new_email):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    logged_in(page, portal.url, new_email, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="My account").click()
    expect(page.locator("main")).to_contain_text("You are not subscribed to our newsletter.")
    page.get_by_role("button", name="Subscribe to our newsletter").click()
    expect(page.locator(".notice")).to_have_text("You are subscribed to our newsletter.")
    expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
    journey.step("subscribed")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator(".notice")).to_have_text("You are no longer subscribed to our newsletter.")
    expect(page.locator("main")).to_contain_text("You are not subscribed to our newsletter.")
    journey.step("unsubscribed")
    page.goto(portal.url + "/newsletter")
    expect(page.get_by_role("button", name="Subscribe to our newsletter")).to_be_visible()
    journey.step("newsletter-page")


def test_the_login_form_by_keyboard_alone(portal, journey, new_email):
    page = journey.page
    page.goto(portal.url + "/login")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "email"
    page.keyboard.type(new_email)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type("Not-Registered-1!")
    page.keyboard.press("Enter")
    expect(page.locator("#password-errors")).to_have_text("The email or password is not right.")
    # Focus where the error is: portal.js moves it there once the answer's page has run its script.
    expect(page.locator("#password")).to_be_focused()
    journey.step("keyboard-login-refused")


def test_logging_in_never_returns_to_another_host(portal, stack, journey, inbox, new_email):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    # The browser sends the tab itself: the input guard refuses it with a page, and the session lives on.
    refused = page.goto(portal.url + "/login?next=/%09/evil.example")
    assert refused is not None and refused.status == 422
    expect(page.locator("main")).to_contain_text("The request could not be completed.")
    journey.step("next-with-a-tab")
    for trick in ("//evil.example", "/%5Cevil.example", "/%2509/evil.example", "https:evil.example"):
        page.goto(portal.url + "/login?next=" + trick)
        log_in(page, new_email, PASSWORD)
        expect(page).to_have_url(portal.url + "/")
        page.get_by_role("button", name="Log out").click()


def test_my_account_says_when_a_bounce_ended_the_subscription_and_subscribes_again(
    portal, stack, journey, inbox, new_email, newsletter_editor
):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    logged_in(page, portal.url, new_email, PASSWORD)
    page.goto(portal.url + "/account")
    page.get_by_role("button", name="Subscribe to our newsletter").click()
    expect(page.locator(".notice")).to_have_text("You are subscribed to our newsletter.")
    inbox.set_fault(550, "5.1.1 User unknown", recipients=new_email)
    try:
        send_issue(
            portal.newsletter_url, newsletter_editor, issue_in_both_languages(f"Issue {uuid.uuid4().hex[:8]}")
        )

        def told() -> bool:
            page.goto(portal.url + "/account")
            return page.locator("#newsletter-bounced").count() == 1

        wait_for(told, timeout=90, what="My account to say the subscription ended with a bounce", interval=1)
    finally:
        inbox.clear_fault(new_email)
    expect(page.locator("#newsletter-bounced")).to_contain_text(
        f"Your subscription to our newsletter ended because mail to {new_email} could not be delivered"
    )
    journey.step("newsletter-bounced")
    page.get_by_role("button", name="Subscribe again").click()
    expect(page.locator(".notice")).to_have_text("You are subscribed to our newsletter.")
    expect(page.locator("#newsletter-bounced")).to_have_count(0)
    journey.step("subscribed-again")
