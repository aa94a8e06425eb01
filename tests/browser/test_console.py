"""The operators' console in a real browser (DESIGN §8): an admin made from the command line sets up
two-step verification, grants `support` to a colleague; the colleague sets it up too, finds a user,
sees the user's code mail delivered, sends a new code and erases the account; the Audit page shows
each action with the person who did it. A plain account gets the 403 page. English and French."""

import re
import time
import uuid

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from accounts_testkit.accounts import Authenticator, enrolled_authenticator
from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, log_in, log_out, logged_in, submit
from tests.conftest import Stack
from tests.support.browser import ARTIFACTS, Journey, artifact_name
from tests.support.http import call
from tests.support.inbox import Inbox
from tests.support.polling import wait_for
from tests.support.processes import run_once
from tests.support.staff import AdminGrants

FRENCH = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}}
ENGLISH = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def set_up_two_step(journey: Journey, portal_url: str) -> str:
    """Two-step verification from the two-step page; the authenticator's secret."""
    page = journey.page
    page.goto(portal_url + "/account/two-step")
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator("[data-totp-secret]")).to_be_visible()
    secret = page.locator("[data-totp-secret]").inner_text()
    code = pyotp.TOTP(secret).now()
    page.locator("#code").fill(code)
    submit(page)
    expect(page.locator("[data-recovery-codes] li")).to_have_count(10)
    return secret


def log_in_with_code(journey: Journey, portal_url: str, email: str, secret: str) -> None:
    """Log out, then in again with the password and the app's code."""
    log_out(journey.page)
    log_in_with_the_apps_code(journey.page, portal_url, email, secret)


def log_in_with_the_apps_code(page: Page, portal_url: str, email: str, secret: str) -> None:
    """From the login page, with the password and the app's code, just after the enrolment. The
    enrolment's code counts once, so this is the next step's, as an app whose clock runs a little ahead
    shows it (identity allows a step of drift): no waiting up to 30 s for a new one.
    tests/integration/test_identity_staff.py shows a code working once, with identity's clock."""
    totp = pyotp.TOTP(secret)
    code = totp.at(time.time() + totp.interval)
    page.goto(portal_url + "/login")
    log_in(page, email, PASSWORD)
    page.locator("#totp").fill(code)  # on the login's second page, which asks only for it
    submit(page)
    expect(page.get_by_role("link", name=re.compile("^(Console)$"))).to_be_visible()


def staff_account(
    stack: Stack, staff_admin: AdminGrants, inbox: Inbox, email: str, role: str, locale: str = "en"
) -> Authenticator:
    """A new account, its authenticator enrolled and `role` granted through identity: where a console
    test starts (signing up, setting up two-step verification in the browser and granting from the
    command line are the subjects of test_signup.py, test_two_step.py and the admin's test below)."""
    account_made_through_identity(stack, inbox, email, locale)
    authenticator = enrolled_authenticator(stack.identity_url, email, PASSWORD)
    staff_admin.grant(email, role)
    return authenticator


def staff_session(
    journey: Journey,
    portal_url: str,
    stack: Stack,
    staff_admin: AdminGrants,
    inbox: Inbox,
    email: str,
    role: str,
) -> Page:
    """A new account granted `role`, logged in with two-step verification."""
    authenticator = staff_account(stack, staff_admin, inbox, email, role)
    log_in_with_the_apps_code(journey.page, portal_url, email, authenticator.secret)
    return journey.page


def second_person(browser: Browser, context_options: dict[str, object], nodeid: str) -> Journey:
    context = browser.new_context(bypass_csp=True, **context_options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return Journey(context.new_page(), ARTIFACTS / "screenshots" / (artifact_name(nodeid) + "-support"))


def audit_rows(page: Page, portal_url: str, actor: str) -> list[tuple[str, str]]:
    """(action, person) of the Audit page's rows for one person, once the audit log has them."""
    page.goto(f"{portal_url}/console/audit?actor={actor}")
    rows = page.locator("tbody tr")
    return [(rows.nth(i).locator("td").nth(2).inner_text(), rows.nth(i).locator("td").nth(1).inner_text())
            for i in range(rows.count())]  # fmt: skip


@pytest.mark.parametrize("context_options", [ENGLISH, FRENCH], ids=["en", "fr"])
def test_an_admin_and_a_support_person_use_the_console(
    portal, stack, journey, inbox, browser, context_options, request
):
    french = context_options is FRENCH
    admin_email = f"admin-{uuid.uuid4().hex[:10]}@example.org"
    helper_email = f"support-{uuid.uuid4().hex[:10]}@example.org"
    user_email = f"user-{uuid.uuid4().hex[:10]}@example.org"
    page = journey.page

    account_made_through_identity(stack, inbox, admin_email, "fr" if french else "en")
    run_once(["identity", "staff", "grant", admin_email, "admin"], stack.identity_env)
    page.goto(portal.url + "/console")
    log_in(page, admin_email, PASSWORD)  # back to the console
    expect(page.locator("h1")).to_have_text(
        "Connectez-vous avec votre second facteur" if french else "Log in with your second factor"
    )
    journey.step("console-asks-for-the-second-factor")
    admin_secret = set_up_two_step(journey, portal.url)
    log_in_with_code(journey, portal.url, admin_email, admin_secret)
    page.get_by_role("link", name=re.compile("^(Console)$")).click()
    expect(page).to_have_url(portal.url + "/console")
    journey.step("console-home")

    helper = second_person(browser, context_options, request.node.nodeid)
    account_made_through_identity(stack, inbox, helper_email, "fr" if french else "en")
    logged_in(helper.page, portal.url, helper_email, PASSWORD)

    page.get_by_role("navigation", name="Console").get_by_role(
        "link", name=re.compile("Staff|Personnel")
    ).click()
    page.locator("#email").fill(helper_email)
    page.locator("#role").select_option("support")
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(f"tr[data-staff='{helper_email}']")).to_contain_text("support")
    journey.step("support-granted")

    helper.page.goto(portal.url + "/account/two-step")  # the grant ended the colleague's session too
    log_in(helper.page, helper_email, PASSWORD)
    helper_secret = set_up_two_step(helper, portal.url)
    log_in_with_code(helper, portal.url, helper_email, helper_secret)
    status, _ = call("POST", f"{stack.identity_url}/v1/accounts", {"email": user_email, "password": PASSWORD})
    assert status == 202
    inbox.wait_for_messages(user_email)
    helper.page.goto(portal.url + "/console/accounts")
    helper.page.locator("#email").fill(user_email)
    submit(helper.page)
    expect(helper.page.locator("[data-account-state]")).to_have_text(
        "En attente de son code" if french else "Waiting for its code"
    )
    expect(helper.page.locator("tr[data-mail-kind='code'][data-mail-status='sent']")).to_have_count(1)
    helper.step("user-found-with-the-code-mail-sent")
    helper.page.get_by_role("button", name=re.compile("Send a new code|Envoyer un nouveau code")).click()
    expect(helper.page.get_by_role("status")).to_contain_text(user_email)
    helper.page.locator("#reason").fill("asked by phone, ticket 4521")
    helper.page.get_by_role("button", name=re.compile("Erase the account|Effacer le compte")).click()
    expect(helper.page.get_by_role("status")).to_contain_text(user_email)
    helper.step("user-erased")
    status, _ = call("GET", f"{stack.identity_url}/v1/support/accounts?email={user_email}")
    assert status == 401  # (the page said so; identity no longer has the account either:)
    helper.page.goto(f"{portal.url}/console/accounts?email={user_email}")
    expect(helper.page.locator("#email-errors")).to_be_visible()

    expected = {("account.looked-up", helper_email), ("deliveries.looked-up", helper_email),
                ("account.code-resent", helper_email), ("account.erased", helper_email)}  # fmt: skip
    wait_for(
        lambda: expected <= set(audit_rows(page, portal.url, helper_email)), timeout=30, what="the audit"
    )
    granted = audit_rows(page, portal.url, admin_email)
    assert ("staff.role-granted", admin_email) in granted
    journey.step("audit")
    helper.page.context.close()


def test_a_plain_account_gets_the_403_page(portal, stack, journey, inbox, new_email):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    logged_in(page, portal.url, new_email, PASSWORD)
    response = page.goto(portal.url + "/console")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("You are not allowed to do this.")
    expect(page.get_by_role("link", name="Console")).to_have_count(0)
    journey.step("forbidden")
    for path in ("/console/accounts", "/console/staff", "/console/audit", "/console/deliveries"):
        assert page.goto(portal.url + path).status == 403, path


def test_support_finds_a_dead_letter_with_its_reason_on_the_deliveries_page_and_replays_it(
    portal, stack, staff_admin, journey, inbox, new_email
):
    user_email = f"refused-{uuid.uuid4().hex[:10]}@example.org"
    page = staff_session(journey, portal.url, stack, staff_admin, inbox, new_email, "support")
    reason = f"5.1.1 <{user_email}>: Recipient address rejected: User unknown"
    inbox.set_fault(550, reason, recipients=user_email)
    try:
        status, _ = call(
            "POST", f"{stack.identity_url}/v1/accounts", {"email": user_email, "password": PASSWORD}
        )
        assert status == 202
        page.goto(portal.url + "/console")
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Deliveries").click()

        def listed():  # type: ignore[no-untyped-def]
            page.reload()
            row = page.locator("tr[data-event-id]", has_text=user_email)
            return row if row.count() == 1 else None

        letter = wait_for(listed, timeout=60, what="the code mail's dead letter on the page", interval=1)
    finally:
        inbox.clear_fault(user_email)
    expect(letter).to_contain_text("550")
    expect(letter).to_contain_text("CodeIssued")
    journey.step("dead-letter-listed")

    letter.get_by_role("button", name=re.compile("^Replay ")).click()
    expect(page.get_by_role("status")).to_have_text("1 dead letter sent again.")
    [mail] = inbox.wait_for_messages(user_email, timeout=60)
    assert re.search(r"\b\d{6}\b", mail["text"]), "the code mail, sent at last"
    wait_for(lambda: listed() is None, timeout=30, what="the replayed letter off the list")
    journey.step("replayed")

    page.locator("#email").fill(user_email)
    page.get_by_role("button", name="Show the mails").click()
    expect(page.locator("tr[data-mail-kind='code'][data-mail-status='sent']")).to_have_count(1)
    journey.step("the-person's-mails")
