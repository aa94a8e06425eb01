"""The steps of the portal's flows as a visitor takes them, shared by the browser tests."""

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import Stack
from tests.e2e.conftest import verified_account
from tests.support.browser import Journey
from tests.support.inbox import Inbox, code_in
from tests.support.polling import wait_for


def code_mail(inbox: Inbox, email: str, count: int = 1) -> dict:  # type: ignore[type-arg]
    """The newest code email to the address, once at least `count` arrived."""
    return inbox.wait_for_messages(email, count=count)[0]


def mail_where(inbox: Inbox, email: str, what: str, matches: Callable[[dict], bool]) -> dict:  # type: ignore[type-arg]
    """The first email to the address that `matches`, once it arrived.

    The topics are shared: mailers of other test runs on the same broker may mail the same event
    too (with their own templates), so a test looks for the email its own stack's mailer writes.
    """
    return wait_for(
        lambda: next((mail for mail in inbox.messages(email) if matches(mail)), None), timeout=30, what=what
    )


def create_account(journey: Journey, email: str, password: str) -> None:
    """From any page with the header: "Create an account", filled in and sent."""
    page = journey.page
    page.get_by_role("navigation").get_by_role(
        "link", name=re.compile("Create an account|Créer un compte")
    ).click()
    page.get_by_label(re.compile("Email address|Adresse électronique")).fill(email)
    page.locator("#password").fill(password)
    journey.step("create-account")
    submit(page)


def enter_code(journey: Journey, code: str) -> None:
    page = journey.page
    page.locator("#code").fill(code)
    submit(page)


def sign_up(journey: Journey, inbox: Inbox, email: str, password: str) -> dict:  # type: ignore[type-arg]
    """Create an account and verify it with the mailed code; ends on "You have successfully created …"."""
    create_account(journey, email, password)
    expect(journey.page.locator("#code")).to_be_visible()
    journey.step("check-your-inbox")
    mail = code_mail(inbox, email)
    enter_code(journey, code_in(mail))
    expect(journey.page.locator("h1")).to_have_text(
        re.compile("You have successfully created your account|Votre compte a bien été créé")
    )
    journey.step("account-created")
    return mail


def account_made_through_identity(stack: Stack, inbox: Inbox, email: str, locale: str = "en") -> None:
    """A verified account with the tests' password, made through identity's API as the portal's sign-up
    makes one (in the `locale` of the pages it would be signed up on), once its code mail arrived: for a
    test whose subject comes after signing up (signing up is test_signup.py's, and a few others')."""
    verified_account(stack.identity_url, inbox, email, locale)


def logged_in(page: Page, portal_url: str, email: str, password: str) -> None:
    """From the login page; ends on the page it leads to, logged in."""
    page.goto(portal_url + "/login")
    log_in(page, email, password)
    expect(page.get_by_role("button", name=re.compile("Log out|Se déconnecter"))).to_be_visible()


def submit(page: Page) -> None:
    """Sends the page's first form shown in <main> (the header's language switch and logout are outside
    it; a console page's "Log in again" is hidden until its session nears its end)."""
    page.locator("main form button[type=submit]:visible").first.click()


def log_in(page: Page, email: str, password: str) -> None:
    """On the login page: the form filled in and sent."""
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    submit(page)


def log_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile("Log out|Se déconnecter")).click()
