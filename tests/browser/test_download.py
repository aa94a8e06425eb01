"""The whole path: video list with search → video → Log in to download → create an account → code → account
created (newsletter) → back to the video → the download works; also without JavaScript, and under the
page's real Content-Security-Policy (its form-action lets Download's redirect reach the catalogue)."""

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import account_made_through_identity, code_mail, enter_code, logged_in, submit
from tests.browser.test_video_preview import LANGUAGES
from tests.support.browser import Journey
from tests.support.inbox import code_in


@pytest.fixture
def sample(portal):  # type: ignore[no-untyped-def]
    return portal.sample


def open_the_video(journey: Journey, portal_url: str, title: str) -> None:
    page = journey.page
    page.goto(portal_url + "/")
    page.get_by_label("Search videos").fill(title.split()[-1])
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q="))
    journey.step("search-results")
    page.get_by_role("link", name=title).click()
    expect(page.locator("h1")).to_have_text(title)
    journey.step("video")


def download(journey: Journey, label: str) -> bytes:
    with journey.page.expect_download() as started:
        journey.page.get_by_role("button", name=f"Download {label}").click()
    path = started.value.path()
    return path.read_bytes()


def test_download_path_through_signup_and_back_to_the_video(portal, sample, journey, inbox, new_email):
    page = journey.page
    open_the_video(journey, portal.url, sample.title)
    expect(page.locator("main")).to_contain_text("Jens Stoltenberg welcomed the Belgian Minister")
    video_url = page.url

    page.get_by_role("link", name=f"Log in to download {sample.rendition_label}").click()
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("main")).to_contain_text("Log in or create an account to download videos.")
    journey.step("log-in-or-create-an-account")
    page.locator("main").get_by_role("link", name="Create an account").click()
    page.locator("#email").fill(new_email)
    page.locator("#password").fill(PASSWORD)
    journey.step("create-an-account")
    submit(page)
    expect(page.locator("h1")).to_have_text("Check your inbox and enter verification code")
    journey.step("check-your-inbox")
    enter_code(journey, code_in(code_mail(inbox, new_email)))
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    journey.step("account-created")
    if portal.newsletter_url is not None:
        page.get_by_role("button", name="Subscribe to our newsletter").click()
        expect(page.locator(".notice")).to_have_text("You are subscribed to our newsletter.")
        journey.step("subscribed")

    page.get_by_role("link", name="Back to the page you were on").click()
    expect(page).to_have_url(video_url)
    assert download(journey, sample.rendition_label) == sample.content


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_download_path_without_javascript(portal, sample, journey, inbox, new_email):
    page = journey.page
    open_the_video(journey, portal.url, sample.title)
    page.get_by_role("link", name=f"Log in to download {sample.rendition_label}").click()
    page.locator("main").get_by_role("link", name="Create an account").click()
    page.locator("#email").fill(new_email)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    enter_code(journey, code_in(code_mail(inbox, new_email)))
    expect(page.locator("h1")).to_have_text("You have successfully created your account")
    page.get_by_role("link", name="Back to the page you were on").click()
    assert download(journey, sample.rendition_label) == sample.content
    journey.step("downloaded")


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_download_reaches_the_catalogue_under_the_page_policy(
    portal, stack, sample, journey, inbox, new_email, browser: Browser, language
):
    """The journeys bypass the page's CSP (for axe): here a context that keeps it, signed in as the
    journey's new account, sends the Download form and gets the file from the catalogue's address."""
    account_made_through_identity(stack, inbox, new_email)
    logged_in(journey.page, portal.url, new_email, PASSWORD)
    signed_in = journey.page.context.storage_state()
    strict = browser.new_context(storage_state=signed_in, **LANGUAGES[language])  # type: ignore[arg-type]
    try:
        page = strict.new_page()
        page.goto(f"{portal.url}/videos/{sample.id}")
        with page.expect_download() as started:
            page.locator("form[action$='/download'] button[type=submit]").first.click()
        assert started.value.url.startswith(portal.catalogue_url)
        assert started.value.path().read_bytes() == sample.content
    finally:
        strict.close()
