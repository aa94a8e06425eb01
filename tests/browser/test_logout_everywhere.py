"""Logout ends the session everywhere: identity publishes SessionRevoked, and within seconds the
newsletter and the catalogue refuse the token, while a portal cookie saved before the logout opens
nothing."""

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, log_out, logged_in
from tests.support.http import call
from tests.support.polling import wait_for


def test_a_logged_out_token_is_refused_by_the_newsletter_and_the_catalogue(portal, stack, inbox, new_email):
    account_made_through_identity(stack, inbox, new_email)
    status, session = call(
        "POST", f"{stack.identity_url}/v1/sessions", {"email": new_email, "password": PASSWORD}
    )
    assert status == 200, session
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    status, video = call("GET", f"{portal.catalogue_url}/v1/videos/{portal.sample.id}")
    assert status == 200, video
    rendition = video["renditions"][0]["id"]
    links = f"{portal.catalogue_url}/v1/videos/{video['id']}/renditions/{rendition}/download-links"
    assert call("POST", links, headers=bearer)[0] == 201
    assert call("POST", f"{portal.newsletter_url}/v1/subscriptions", headers=bearer)[0] in (200, 201)

    assert call("DELETE", f"{stack.identity_url}/v1/sessions/current", headers=bearer)[0] == 204

    def refused(method: str, url: str) -> bool:
        status, body = call(method, url, headers=bearer)
        return status == 403 and str(body["type"]).endswith("token-revoked")

    wait_for(
        lambda: refused("POST", links), timeout=30, what="SessionRevoked to reach the catalogue", interval=0.2
    )
    subscriptions = f"{portal.newsletter_url}/v1/subscriptions"
    wait_for(
        lambda: refused("POST", subscriptions),
        timeout=30,
        what="SessionRevoked to reach the newsletter",
        interval=0.2,
    )
    status, me = call("GET", f"{stack.identity_url}/v1/accounts/me", headers=bearer)
    assert status == 401, me


def test_a_portal_cookie_saved_before_logout_no_longer_opens_my_account(
    portal, stack, journey, inbox, new_email
):
    page = journey.page
    account_made_through_identity(stack, inbox, new_email)
    logged_in(page, portal.url, new_email, PASSWORD)
    page.goto(portal.url + "/account")
    expect(page.locator("h1")).to_have_text("My account")
    saved = page.context.cookies()

    log_out(page)
    page.context.clear_cookies()
    page.context.add_cookies(saved)  # type: ignore[arg-type]
    page.goto(portal.url + "/account")
    expect(page).to_have_url(f"{portal.url}/login?reason=expired")
    expect(page.locator("main")).not_to_contain_text(new_email)
