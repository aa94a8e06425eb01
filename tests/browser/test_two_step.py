"""Two-step verification in a real browser: set up from My account with the QR code's key, the
recovery codes shown once, then a login whose second page asks only for the code; in English and
in French."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, log_in, log_out, logged_in, submit
from tests.support.browser import errors_next_to

FRENCH = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}}
ENGLISH = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


def words(english: str, french: str, context_options: dict[str, object]) -> str:
    return french if context_options is FRENCH else english


@pytest.mark.parametrize("context_options", [ENGLISH, FRENCH], ids=["en", "fr"])
def test_two_step_set_up_from_my_account_then_asked_at_login(
    portal, stack, journey, inbox, new_email, context_options
):
    say = lambda english, french: words(english, french, context_options)  # noqa: E731
    page = journey.page
    account_made_through_identity(stack, inbox, new_email, say("en", "fr"))
    logged_in(page, portal.url, new_email, PASSWORD)
    page.goto(portal.url + "/account")
    page.get_by_role(
        "link", name=say("Set up an authenticator app", "Configurer une application d’authentification")
    ).click()
    expect(page).to_have_url(re.compile(r"/account/two-step$"))
    journey.step("two-step")
    page.get_by_label(say("Your password, to confirm", "Votre mot de passe, pour confirmer")).fill(PASSWORD)
    page.get_by_role(
        "button", name=say("Set up two-step verification", "Configurer la validation en deux étapes")
    ).click()
    expect(page.get_by_role("img", name=re.compile("QR"))).to_be_visible()
    secret = page.locator("[data-totp-secret]").inner_text()
    journey.step("scan")
    wrong_code = say(
        "This code is not right. Enter the code your app shows now.",
        "Ce code est incorrect. Saisissez le code que votre application affiche maintenant.",
    )  # the same words when setting up and at login

    page.locator("#code").fill("000000")
    submit(page)
    expect(errors_next_to(page, "code")).to_have_text(wrong_code)
    assert page.locator("[data-totp-secret]").inner_text() == secret, "the same key, shown again"
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    submit(page)
    codes = page.locator("[data-recovery-codes] li")
    expect(codes).to_have_count(10)
    recovery_code = codes.first.inner_text()
    journey.step("recovery-codes")

    log_out(page)
    page.goto(portal.url + "/login")
    log_in(page, new_email, PASSWORD)
    step = say(
        "Log in: code from your authenticator app", "Connexion : code de votre application d’authentification"
    )
    expect(page).to_have_url(re.compile(r"/login/code$"))
    expect(page).to_have_title(re.compile("^" + step))
    expect(page.locator("#totp")).to_be_focused()
    expect(page.locator("#totp")).to_have_attribute("autocomplete", "one-time-code")
    expect(page.locator("#password")).to_have_count(0)
    expect(
        page.get_by_role("link", name=say("Use another account", "Utiliser un autre compte"))
    ).to_be_visible()
    journey.step("login-asks-only-the-code")

    page.locator("#totp").fill("000000")
    submit(page)
    expect(errors_next_to(page, "totp")).to_have_text(wrong_code)
    expect(page).to_have_title(re.compile("^" + say("Error: ", "Erreur : ") + step))
    expect(page.locator("#totp")).to_be_focused()
    journey.step("wrong-code-stays-on-the-code-page")
    page.locator("#totp").fill(recovery_code)
    submit(page)
    expect(page.get_by_role("button", name=re.compile("Log out|Se déconnecter"))).to_be_visible()
    journey.step("logged-in-with-the-second-factor")
