"""A newsletter mail's unsubscribe link opens the portal's page (its look, its security headers, the
subscriber's language), which unsubscribes with one click; a forged link gets a page saying so."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, log_out, logged_in, mail_where, submit
from tests.e2e.mail_helpers import headers_of
from tests.support.browser import assert_accessible
from tests.support.http import call
from tests.support.newsletter import send_issue

ENGLISH = {"locale": "en-GB"}
FRENCH = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}}
TEXTS = {
    "en": ("Unsubscribe from our newsletter", "Unsubscribe", "You have been unsubscribed"),
    "fr": ("Se désabonner de notre lettre d’information", "Se désabonner", "Vous êtes désabonné"),
}


def subscribe_and_receive_an_issue(portal, stack, journey, inbox, email, language, editor) -> str:  # type: ignore[no-untyped-def]
    """An account (in `language`), subscribed on the newsletter page, sent an issue; the mail's
    unsubscribe link."""
    page = journey.page
    account_made_through_identity(stack, inbox, email, language)
    logged_in(page, portal.url, email, PASSWORD)
    page.goto(portal.url + "/newsletter")
    submit(page)
    subject = f"Issue {uuid.uuid4().hex[:8]}"
    draft = {"subject": {"en": subject, "fr": subject}, "body": {"en": f"{subject}.", "fr": f"{subject}."}}
    send_issue(portal.newsletter_url, editor, draft)
    mail = mail_where(inbox, email, f"the issue {subject}", lambda m: m["subject"] == subject)
    assert headers_of(mail)["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    return headers_of(mail)["list-unsubscribe"].split(",")[0].strip().strip("<>")


def subscribed(identity_url: str, portal, email: str) -> bool:  # type: ignore[no-untyped-def]
    status, session = call("POST", f"{identity_url}/v1/sessions", {"email": email, "password": PASSWORD})
    assert status == 200, session
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    status, body = call("GET", f"{portal.newsletter_url}/v1/subscriptions/me", headers=bearer)
    assert status == 200, body
    return bool(body["subscribed"])


@pytest.mark.parametrize(
    ("context_options", "language"), [(ENGLISH, "en"), (FRENCH, "fr")], ids=["english", "french"]
)
def test_the_mails_link_unsubscribes_on_the_portals_page_in_the_subscribers_language(
    portal, stack, journey, inbox, new_email, language, newsletter_editor
):
    link = subscribe_and_receive_an_issue(
        portal, stack, journey, inbox, new_email, language, newsletter_editor
    )
    assert link.startswith(f"{portal.url}/newsletter/unsubscribe?token=")
    assert link.endswith(f"&lang={language}")
    page = journey.page
    log_out(page)
    page.context.clear_cookies()
    # A browser of another language: the page follows the subscriber's, which the link carries.
    page.set_extra_http_headers({"Accept-Language": "de-DE,en;q=0.5" if language == "fr" else "fr-FR"})
    response = page.goto(link)
    assert response is not None and response.status == 200
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"]
    heading, button, done = TEXTS[language]
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("header")).to_be_visible()  # the portal's look: its header and language switch
    journey.step("unsubscribe-confirm")
    assert subscribed(stack.identity_url, portal, new_email), "showing the page changes nothing"
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("h1")).to_have_text(done)
    journey.step("unsubscribed")
    assert not subscribed(stack.identity_url, portal, new_email)


@pytest.mark.parametrize(("context_options", "language"), [(ENGLISH, "en"), (FRENCH, "fr")], ids=["en", "fr"])
def test_a_forged_link_gets_a_page_that_says_so(portal, journey, language):
    page = journey.page
    forged = f"{portal.url}/newsletter/unsubscribe?token=AAAAAAAAAAAAAAAAAAAAAA.forged&lang={language}"
    response = page.goto(forged)
    assert response is not None and response.status == 400
    expect(page.locator("h1")).to_have_text(
        re.compile("This unsubscribe link is not valid|Ce lien de désabonnement n’est pas valide")
    )
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert_accessible(page, "unsubscribe-invalid")
    one_click = page.request.post(forged, form={"List-Unsubscribe": "One-Click"})
    assert one_click.status == 400
