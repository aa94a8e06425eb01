"""The language of an account's mails, chosen on My account after sign-up (in English and in French),
and the links of those mails, which open the portal in the mail's language whatever the browser asks."""

import html
import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import (
    account_made_through_identity,
    enter_code,
    log_out,
    logged_in,
    mail_where,
    submit,
)
from tests.support.inbox import code_in

NEW_PASSWORD = "Another-Horse-7?"


def test_the_mails_language_is_chosen_on_my_account_and_their_links_open_the_portal_in_it(
    portal, stack, journey, inbox, new_email
):
    page = journey.page  # the browser asks for English (en-GB)
    account_made_through_identity(stack, inbox, new_email)  # as signed up on English pages
    logged_in(page, portal.url, new_email, PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="My account").click()
    expect(page.get_by_role("radio", name="English")).to_be_checked()
    journey.step("mail-language-english")
    page.get_by_role("radio", name="Français").check()
    page.get_by_role("button", name="Save the language").click()
    expect(page.locator(".notice")).to_have_text("We will write to you in French from now on.")
    expect(page.get_by_role("radio", name="Français")).to_be_checked()
    journey.step("mail-language-changed")

    page.locator("form.languages").get_by_role("button", name="Français").click()  # the page's own switch
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.get_by_role("group", name="Nous vous écrivons en")).to_be_visible()
    page.get_by_role("radio", name="English").check()
    page.get_by_role("button", name="Enregistrer la langue").click()
    expect(page.locator(".notice")).to_have_text("Nous vous écrirons désormais en anglais.")
    page.get_by_role("radio", name="Français").check()
    page.get_by_role("button", name="Enregistrer la langue").click()
    expect(page.locator(".notice")).to_have_text("Nous vous écrirons désormais en français.")
    journey.step("langue-des-e-mails")
    page.locator("form.languages").get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("My account")

    log_out(page)  # a reset asked for in English pages: its mails are in the account's language
    page.goto(portal.url + "/password-reset")
    page.locator("#email").fill(new_email)
    submit(page)
    subject = "Réinitialiser le mot de passe : votre code de vérification"
    enter_code(
        journey, code_in(mail_where(inbox, new_email, "the French code", lambda m: m["subject"] == subject))
    )
    page.locator("#password").fill(NEW_PASSWORD)
    submit(page)
    expect(page.locator("h1")).to_have_text("Your password has been updated")

    updated = mail_where(
        inbox,
        new_email,
        "the French password notice",
        lambda m: m["subject"] == "Votre mot de passe a été mis à jour",
    )
    [link] = re.findall(r'href="([^"]+)"', updated["html"])
    address = urlsplit(html.unescape(link))  # the mailer's PORTAL_URL is not this portal's address
    assert address.query.endswith("lang=fr"), link
    page.goto(f"{portal.url}{address.path}?{address.query}")
    expect(page).not_to_have_url(re.compile("lang="))  # the clean address
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    journey.step("lien-en-francais")
