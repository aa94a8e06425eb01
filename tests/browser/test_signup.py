"""Create an account in a real browser: live password rules, errors next to fields, the code from the
mail, "Send new code", the account created; on a phone, in French, and without JavaScript."""

import uuid
from email.header import decode_header, make_header

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import code_mail, enter_code, log_in, log_out, mail_where, sign_up, submit
from tests.e2e.mail_helpers import headers_of
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, errors_next_to, no_horizontal_scroll
from tests.support.inbox import code_in


def test_signup_path_with_live_rules_field_errors_and_the_code_from_the_mail(
    portal, journey, inbox, new_email
):
    page = journey.page
    page.goto(portal.url + "/")
    journey.step("videos")

    page.get_by_role("navigation").get_by_role("link", name="Create an account").click()
    rules = page.locator("#password-rules")
    page.locator("#email").fill(new_email)
    page.locator("#password").fill("short")
    expect(rules.locator("[data-rule=lower]")).to_have_class("met")
    expect(rules.locator("[data-rule=length]")).not_to_have_class("met")
    journey.step("rules-as-you-type")
    submit(page)
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(errors_next_to(page, "password")).to_contain_text("Use at least 12 characters.")
    expect(errors_next_to(page, "password")).to_contain_text("Include an uppercase letter.")
    journey.step("password-refused-by-the-server")

    page.locator("#password").fill(PASSWORD)
    expect(rules.locator("li.met")).to_have_count(6)
    submit(page)
    expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
    expect(page.locator("main")).to_contain_text(new_email)
    expect(page.get_by_role("button", name="Send new code")).to_be_disabled()
    expect(page.locator("#resend-when")).to_contain_text("You can ask for a new code in")
    journey.step("check-your-inbox")

    code = code_in(code_mail(inbox, new_email))
    enter_code(journey, "000000" if code != "000000" else "111111")
    expect(errors_next_to(page, "code")).to_contain_text("This code is not right")
    journey.step("wrong-code")

    enter_code(journey, code)
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    expect(page.get_by_role("button", name="Subscribe to our newsletter")).to_be_visible()
    journey.step("account-created")

    log_out(page)
    page.get_by_role("navigation").get_by_role("link", name="Log in").click()
    log_in(page, new_email, "Wrong-Horse-9!")
    expect(errors_next_to(page, "password")).to_have_text("The email or password is not right.")
    journey.step("wrong-password")
    log_in(page, new_email, PASSWORD)
    expect(page.get_by_role("navigation").get_by_role("link", name="My account")).to_be_visible()
    journey.step("logged-in")


def test_the_live_rules_count_characters_and_digits_as_identity_does(portal, journey):
    """Identity counts characters (an emoji is one, two UTF-16 units in JavaScript) and takes any
    decimal digit as a number ("٣", Arabic-Indic three): the ticks say what identity will say."""
    page = journey.page
    page.goto(portal.url + "/signup")
    rules = page.locator("#password-rules")
    page.locator("#email").fill(f"rules-{uuid.uuid4().hex[:12]}@example.org")
    page.locator("#password").fill("Ab!٣" + "\U0001f600" * 7)  # 11 characters: one short
    expect(rules.locator("[data-rule=digit]")).to_have_class("met")
    expect(rules.locator("[data-rule=length]")).not_to_have_class("met")
    submit(page)
    # The whole list: its items read as they are parsed, "Include a number." could come after.
    expect(errors_next_to(page, "password").locator("li")).to_have_text(["Use at least 12 characters."])


@pytest.mark.parametrize(
    "context_options", [{"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}]
)
def test_signup_path_on_a_phone(portal, journey, inbox, new_email):
    page = journey.page
    page.goto(portal.url + "/")
    assert no_horizontal_scroll(page)
    journey.step("videos")
    sign_up(journey, inbox, new_email, PASSWORD)
    assert no_horizontal_scroll(page)


@pytest.mark.parametrize(
    "context_options", [{"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}]
)
def test_a_very_long_address_wraps_on_a_phone_instead_of_widening_the_page(portal, journey, inbox, new_email):
    long_email = f"broadcastnewsroomdesk{uuid.uuid4().hex}{'x' * 11}@example.org"  # 64: no place to break
    page = journey.page
    page.goto(portal.url + "/signup")
    page.locator("#email").fill(long_email)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator("main")).to_contain_text(long_email)
    assert no_horizontal_scroll(page), "the code page scrolls sideways"
    journey.step("check-your-inbox")
    enter_code(journey, code_in(code_mail(inbox, long_email)))
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    page.goto(portal.url + "/account")
    expect(page.locator("main")).to_contain_text(long_email)
    assert no_horizontal_scroll(page), "the account page scrolls sideways"
    journey.step("my-account")


@pytest.mark.parametrize(
    "context_options", [{"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}}]
)
def test_signup_path_in_french_with_the_mails_in_french(portal, journey, inbox, new_email):
    page = journey.page
    page.goto(portal.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("navigation").get_by_role("link", name="Créer un compte")).to_be_visible()
    journey.step("videos")
    page.get_by_role("navigation").get_by_role("link", name="Créer un compte").click()
    expect(page.locator("h1")).to_have_text("Créer un compte")
    page.locator("#email").fill(new_email)
    page.locator("#password").fill("court")
    submit(page)
    expect(errors_next_to(page, "password")).to_contain_text("Utilisez au moins 12 caractères.")
    journey.step("mot-de-passe-refuse")
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator("h1")).to_have_text("Consultez votre messagerie et saisissez le code de vérification")
    journey.step("code")

    french_subject = "Créer un compte : votre code de vérification"
    mail = mail_where(inbox, new_email, "the code mail in French", lambda m: m["subject"] == french_subject)
    assert "Ce code expirera dans 30 minutes." in mail["text"] and '<html lang="fr">' in mail["html"]
    assert mail["text"].startswith("COMPTE MULTIMÉDIA OTAN") and "COMPTE MULTIMÉDIA OTAN" in mail["html"]
    sender = str(make_header(decode_header(headers_of(mail)["from"])))
    assert sender.startswith("Compte multimédia OTAN <")
    enter_code(journey, code_in(mail))
    expect(page.locator("h1")).to_have_text("Votre compte a bien été créé")
    expect(page.get_by_role("button", name="Abonnez-vous à notre lettre d’information")).to_be_visible()
    journey.step("compte-cree")
    welcome = "Votre compte a bien été créé"
    mail_where(inbox, new_email, "the welcome mail in French", lambda m: m["subject"] == welcome)


def test_the_language_switch_on_every_page_and_the_accounts_language_after_login(
    portal, journey, inbox, new_email
):
    page = journey.page
    page.goto(portal.url + "/signup")
    page.get_by_role("button", name="Français").click()
    expect(page).to_have_url(portal.url + "/signup")
    expect(page.locator("h1")).to_have_text("Créer un compte")
    expect(page.get_by_role("button", name="Français")).to_have_attribute("aria-pressed", "true")
    journey.step("switched-to-french")
    sign_up(journey, inbox, new_email, PASSWORD)  # registered in French: the account's language
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    log_out(page)

    fresh = page.context.browser.new_context(locale="en-GB")  # type: ignore[union-attr]
    try:
        other = fresh.new_page()
        other.goto(portal.url + "/login")
        expect(other.locator("h1")).to_have_text("Log in")
        log_in(other, new_email, PASSWORD)
        expect(other.get_by_role("navigation").get_by_role("link", name="Mon compte")).to_be_visible()
    finally:
        fresh.close()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_signup_without_javascript(portal, journey, inbox, new_email):
    page = journey.page
    page.goto(portal.url + "/")
    journey.step("videos")
    page.get_by_role("navigation").get_by_role("link", name="Create an account").click()
    page.locator("#email").fill(new_email)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
    page.get_by_role("button", name="Send new code").click()  # too early: the server says when
    expect(page.locator("main")).to_contain_text("You can ask for a new code in")
    journey.step("new-code-too-early")
    enter_code(journey, code_in(code_mail(inbox, new_email)))
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    journey.step("account-created")


def test_a_second_click_while_the_sign_up_is_on_its_way_sends_it_once(portal, journey, inbox, new_email):
    """Sent twice, it would register twice: the second registration's code is the one the page
    asks for, and the code in the first mail to arrive is refused."""
    page = journey.page
    page.goto(portal.url + "/signup")
    page.locator("#email").fill(new_email)
    page.locator("#password").fill(PASSWORD)
    sent: list[Route] = []

    def hold_the_first(route: Route) -> None:
        sent.append(route)
        if len(sent) > 1:
            route.continue_()

    page.route(portal.url + "/signup", hold_the_first)
    box = page.locator("main form button[type=submit]").bounding_box()
    assert box is not None
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(*middle)
    for _ in range(500):  # the sync API runs the route handler while it waits
        if sent:
            break
        page.wait_for_timeout(20)
    page.mouse.click(*middle)  # the mouse, unlike a locator, does not wait for the page to load first
    sent[0].continue_()
    expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
    assert len(sent) == 1, f"the form was sent {len(sent)} times"
    enter_code(journey, code_in(code_mail(inbox, new_email)))
    expect(page.locator("h1")).to_have_text("You have successfully created your account")


def test_a_sign_up_page_back_from_the_browsers_cache_can_be_sent_again(portal, browser, new_email):
    """Playwright turns the back-forward cache off; a person's Chromium keeps the page there, and
    with it the mark that its form was sent."""
    other_email = f"other-{new_email}"
    caching = browser.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=["--disable-back-forward-cache"]
    )
    try:
        page = caching.new_page()
        page.goto(portal.url + "/signup")
        page.evaluate("addEventListener('pageshow', (event) => { window.restored = event.persisted; })")
        page.locator("#email").fill(new_email)
        page.locator("#password").fill(PASSWORD)
        submit(page)
        expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
        page.go_back(wait_until="commit")  # a page from the cache has no load event to wait for
        expect(page.locator("h1")).to_have_text("Create an account")
        assert page.evaluate("window.restored") is True, "the page was loaded again, not restored"
        page.locator("#email").fill(other_email)
        page.locator("#password").fill(PASSWORD)
        submit(page)
        expect(page.locator("main")).to_contain_text(other_email)
    finally:
        caching.close()
