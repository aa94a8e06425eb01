"""A newsletter editor's unsaved text survives an ended session (portal.js keeps a draft in the
browser): typed into a saved issue, the session ended on identity's side (a role granted), the form
sent to the login page; after logging in again, the issue's page has the text back with a notice,
and its preview follows. Discarding it shows the saved text; a save that goes through leaves no
draft; logging out forgets what is kept. English and French (the notice's wording)."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.flows import log_in, log_out, submit
from tests.browser.test_console import (
    ENGLISH,
    FRENCH,
    log_in_with_the_apps_code,
    staff_account,
    staff_session,
)
from tests.support.polling import wait_for
from tests.support.processes import run_once

RESTORED = {
    "en": "The text you typed here without saving it is back. Save it to keep it.",
    "fr": "Le texte que vous aviez saisi ici sans l’enregistrer est de retour. "
    "Enregistrez-le pour le garder.",
}


def drafts(page: Page) -> dict[str, str]:
    """What portal.js keeps in this browser's localStorage for the portal."""
    return dict(page.evaluate("() => Object.fromEntries(Object.entries(localStorage))"))


def save(page: Page) -> None:
    page.locator("button[name=action][value=save]").click()


@pytest.mark.parametrize("context_options", [ENGLISH, FRENCH], ids=["en", "fr"])
def test_an_issue_typed_as_the_session_ends_is_back_after_logging_in_again(
    portal, stack, staff_admin, journey, inbox, new_email, context_options
):
    language = "fr" if context_options is FRENCH else "en"
    page = journey.page
    authenticator = staff_account(stack, staff_admin, inbox, new_email, "newsletter-editor", language)
    log_in_with_the_apps_code(page, portal.url, new_email, authenticator.secret)
    recovery_code = authenticator.recovery_codes[0]

    page.goto(portal.url + "/console/newsletter/new")
    subject = f"December {uuid.uuid4().hex[:6]}"
    page.locator("#subject_en").fill(subject)
    page.locator("#body_en").fill("As saved.")
    save(page)
    expect(page).to_have_url(re.compile(r"/console/newsletter/[0-9a-f-]{36}$"))
    key = "portal-draft:issue:" + page.url.rsplit("/", 1)[1]
    journey.step("issue-saved")

    page.locator("#body_en").fill("Typed *while* the session ends.")
    wait_for(lambda: key in drafts(page), timeout=5, what="the draft kept as it is typed")
    run_once(["identity", "staff", "grant", new_email, "support"], stack.identity_env)  # ends the session
    save(page)
    expect(page).to_have_url(f"{portal.url}/login?reason=expired")
    log_in(page, new_email, PASSWORD)
    page.locator("#totp").fill(recovery_code)  # the app's code of this step was spent on the last login
    submit(page)

    expect(page).to_have_url(re.compile(re.escape(key.rsplit(":", 1)[1]) + "$"))
    notice = page.locator("[data-draft-notice]")
    expect(notice).to_be_visible()
    expect(notice.locator("[aria-live=polite]")).to_have_text(RESTORED[language])
    expect(page.locator("#body_en")).to_have_value("Typed *while* the session ends.")
    expect(page.locator("#subject_en")).to_have_value(subject)
    expect(page.locator("[data-preview=en] .mail-html em")).to_have_text("while")
    journey.step("draft-put-back")

    notice.get_by_role("button").click()
    expect(page.locator("#body_en")).to_have_value("As saved.")
    expect(notice).to_be_hidden()
    expect(notice.locator("[aria-live=polite]")).to_be_empty()
    assert key not in drafts(page)
    page.reload()
    expect(page.locator("#body_en")).to_have_value("As saved.")
    expect(notice).to_be_hidden()
    journey.step("draft-discarded")

    page.locator("#body_en").fill("Saved this time.")
    save(page)
    saved = page.locator(".notice[role=status]:not([data-draft-notice])")  # "The draft is saved."
    expect(saved).to_be_visible()
    expect(page.locator("#body_en")).to_have_value("Saved this time.")
    expect(notice).to_be_hidden()
    assert key not in drafts(page), "the draft of the text saved since is dropped"

    page.locator("#subject_en").fill(f"{subject}, not saved")
    wait_for(lambda: key in drafts(page), timeout=5, what="the draft kept as it is typed")
    log_out(page)
    expect(page.get_by_role("link", name=re.compile("^(Log in|Se connecter)$"))).to_be_visible()
    assert not [name for name in drafts(page) if name.startswith("portal-draft:")]


# Before portal.js's own (an init script's listener comes first): the draft notice's live region as the
# page has loaded, and whether it was rendered and empty then.
LIVE_REGION_AT_LOAD = """document.addEventListener("DOMContentLoaded", () => {
  const region = document.querySelector("[data-draft-notice] [aria-live=polite]");
  window.liveRegion = region;
  window.liveRegionAtLoad = region && { rendered: region.checkVisibility(), text: region.textContent };
});"""


def keep(page: Page, key: str, texts: dict[str, str], days_ago: float | None, base: str = "") -> None:
    """A draft in localStorage as portal.js writes it, `days_ago` old (None: as written before drafts had
    a time)."""
    page.evaluate(
        """([key, draft, daysAgo]) => localStorage.setItem(key, JSON.stringify(
             daysAgo === null ? draft : { ...draft, at: Date.now() - daysAgo * 24 * 3600 * 1000 }))""",
        [key, {"base": base, "texts": texts}, days_ago],
    )


def test_a_draft_older_than_a_week_is_dropped_and_a_younger_one_is_announced(
    portal, stack, staff_admin, journey, inbox, new_email
):
    """Every old draft of the browser goes as a page loads, a draft without a time is kept and timed
    from then; the notice's text goes into a live region that was in the page, empty, as it loaded."""
    page = staff_session(journey, portal.url, stack, staff_admin, inbox, new_email, "newsletter-editor")
    page.add_init_script(LIVE_REGION_AT_LOAD)
    page.goto(portal.url + "/console/newsletter/new")
    page.locator("#subject_en").fill(f"December {uuid.uuid4().hex[:6]}")
    page.locator("#body_en").fill("As saved.")
    save(page)
    expect(page).to_have_url(re.compile(r"/console/newsletter/[0-9a-f-]{36}$"))
    form = page.locator("form[data-keep-draft]")
    key = "portal-draft:" + str(form.get_attribute("data-keep-draft"))
    base = str(form.get_attribute("data-draft-base"))
    deleted, untimed = (f"portal-draft:issue:{uuid.uuid4()}" for _ in range(2))

    keep(page, key, {"body_en": "Typed eight days ago."}, days_ago=8, base=base)
    keep(page, deleted, {"body_en": "Of an issue deleted since."}, days_ago=30)
    keep(page, untimed, {"body_en": "Kept before drafts had a time."}, days_ago=None)
    page.reload()
    wait_for(
        lambda: '"at"' in drafts(page).get(untimed, ""), timeout=5, what="the drafts gone through on load"
    )
    expect(page.locator("#body_en")).to_have_value("As saved.")
    assert set(drafts(page)) & {key, deleted, untimed} == {untimed}
    age_ms = page.evaluate("(key) => Date.now() - JSON.parse(localStorage.getItem(key)).at", untimed)
    assert 0 <= age_ms < 60_000, "timed from the load that found it"

    keep(page, key, {"body_en": "Typed six days ago."}, days_ago=6, base=base)
    page.reload()
    expect(page.locator("#body_en")).to_have_value("Typed six days ago.")
    assert page.evaluate("window.liveRegionAtLoad") == {"rendered": True, "text": ""}
    expect(page.locator("[data-draft-notice] [aria-live=polite]")).to_have_text(RESTORED["en"])
    assert page.evaluate("liveRegion.isConnected"), "the text went into the region there at load"
    journey.step("old-draft-dropped-young-one-announced")
