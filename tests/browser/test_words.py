"""What a person reads, in English and in French: plain, translated field errors (never a library's
wording), file sizes written the page's way, "Send new code" saying the old code is dead, and the
account-created page showing a subscription once it is made."""

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Portal
from tests.browser.flows import create_account, sign_up, submit
from tests.conftest import Stack
from tests.support.browser import errors_next_to
from tests.support.processes import ServiceProcess, free_port

ENGLISH = {"locale": "en-GB"}
FRENCH = {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}}
BOTH = pytest.mark.parametrize(
    ("context_options", "language"), [(ENGLISH, "en"), (FRENCH, "fr")], ids=["english", "french"]
)
WORDS = {
    "en": {
        "email": "Enter a valid email address, like name@example.org.",
        "password": "Enter a password.",
        "size": ("kB", "."),
        "resent": "We have sent a new code to {email}. The previous code no longer works.",
        "subscribe": "Subscribe to our newsletter",
        "subscribed": "You are subscribed to our newsletter.",
    },
    "fr": {
        "email": "Saisissez une adresse électronique valide, par exemple nom@example.org.",
        "password": "Saisissez un mot de passe.",
        "size": ("ko", ","),
        "resent": "Nous avons envoyé un nouveau code à {email}. Le code précédent ne fonctionne plus.",
        "subscribe": "Abonnez-vous à notre lettre d’information",
        "subscribed": "Vous êtes abonné à notre lettre d’information.",
    },
}
LIBRARY_WORDING = ("@-sign", "Length must be", "Missing data", "String does not match")


@BOTH
def test_empty_signup_fields_get_plain_words_in_the_pages_language(portal, journey, language):
    page = journey.page
    page.goto(portal.url + "/signup")
    submit(page)
    expect(errors_next_to(page, "email")).to_have_text(WORDS[language]["email"])
    expect(errors_next_to(page, "password")).to_have_text(WORDS[language]["password"])
    assert not any(words in page.locator("main").inner_text() for words in LIBRARY_WORDING)
    journey.step("empty-fields")


@BOTH
def test_file_sizes_are_written_the_pages_way(portal, journey, language):
    page = journey.page
    page.goto(f"{portal.url}/videos/{portal.sample.id}")
    unit, decimal_mark = WORDS[language]["size"]
    kilobytes = f"{round(len(portal.sample.content) / 1000, 1):.1f}".removesuffix(".0")  # a sub-MB file
    written = re.compile(re.escape(kilobytes.replace(".", decimal_mark)) + r"\s?" + unit)
    expect(page.locator(".rendition").first).to_contain_text(written)
    journey.step("file-size")


@BOTH
def test_after_subscribing_the_created_page_shows_the_subscription_not_the_offer(
    portal, journey, inbox, new_email, language
):
    page = journey.page
    page.goto(portal.url + "/")
    sign_up(journey, inbox, new_email, PASSWORD)
    page.get_by_role("button", name=WORDS[language]["subscribe"]).click()
    expect(page.locator(".notice")).to_have_text(WORDS[language]["subscribed"])
    expect(page.locator("main")).to_contain_text(WORDS[language]["subscribed"])
    expect(page.get_by_role("button", name=WORDS[language]["subscribe"])).to_have_count(0)
    journey.step("subscribed")


@pytest.fixture(scope="module")
def portal_without_cooldown(
    portal: Portal, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second portal over the same services whose "Send new code" is never too early."""
    port = free_port()
    env = {
        "ACCOUNTS_ENV": "development",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_IDENTITY_URL": stack.identity_url,
        "PORTAL_CATALOGUE_URL": portal.catalogue_url,
        "PORTAL_CATALOGUE_PUBLIC_URL": portal.catalogue_url,
        "PORTAL_NEWSLETTER_URL": portal.newsletter_url,
        "PORTAL_SECURE_COOKIES": "false",
        "PORTAL_RESEND_COOLDOWN_S": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("portal-prometheus")),
    }
    logs = tmp_path_factory.mktemp("portal-no-cooldown-logs")
    process = ServiceProcess("portal-web", ["portal", "web", "--port", str(port)], env, logs).start()
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@BOTH
def test_send_new_code_says_the_previous_code_no_longer_works(
    portal_without_cooldown, journey, new_email, language
):
    page = journey.page
    page.goto(portal_without_cooldown + "/")
    create_account(journey, new_email, PASSWORD)
    expect(page.locator("#code")).to_be_visible()
    page.locator("form[action$='/resend'] button[type=submit]").click()
    expect(page.locator(".notice")).to_have_text(WORDS[language]["resent"].format(email=new_email))
    journey.step("new-code-sent")
