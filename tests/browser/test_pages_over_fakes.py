"""The portal's pages in Chromium as the portal renders them over fakes of the services (no stack:
tests/unit's test client answers the browser's requests): what their scripts say to a screen reader and
where they put the focus, and how the pages reflow on a narrow screen. tus-js-client is replaced by a
fake that reports an upload's progress as fast as it can."""

import re
import time
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.support.browser import assert_accessible
from tests.support.polling import wait_for
from tests.unit.test_portal import UPLOAD, EditorIdentity, PastTimeIssue, portal_client, staff_client
from tests.unit.test_portal_console_drafts import Deletion
from tests.unit.test_portal_console_newsletter import HeadedIssue
from tests.unit.test_portal_odd_input import Editor, Identity, Mailer
from tests.unit.test_portal_session_end import LoggingOut, token_for

ORIGIN = "http://portal.test"
FORWARDED_HEADERS = ("Content-Type", "Accept-Language")  # to the test client: a form's, the page's language
UPLOADED = "Uploaded. Now give the video its titles and create it."
# tus-js-client as the page uses it: a thousand-byte file reported five bytes at a time, then done.
FAKE_TUS = """
window.tus = { isSupported: true, Upload: class {
  constructor(file, options) { this.options = options; this.url = "/console/videos/uploads/done"; }
  findPreviousUploads() { return Promise.resolve([]); }
  start() {
    for (let sent = 0; sent <= 1000; sent += 5) { this.options.onProgress(sent, 1000); }
    this.options.onSuccess();
  }
  abort() {}
} };
"""


class NoVideos:
    def videos(self, token: str, page: int = 1) -> dict[str, Any]:
        return {"items": [], "total": 0, "page": page, "per_page": 50}


def serve(context: BrowserContext, client: Any, replaced: dict[str, str] | None = None) -> None:
    """The browser's requests to ORIGIN answered by the portal's test `client` (its session, its
    cookies), but the scripts of `replaced` (path: JavaScript)."""

    def answer(route: Route) -> None:
        request = route.request
        path = request.url.removeprefix(ORIGIN)
        if path.split("?", 1)[0] in (replaced or {}):
            route.fulfill(body=(replaced or {})[path.split("?", 1)[0]], content_type="text/javascript")
            return
        headers = {name: request.headers.get(name.lower(), "") for name in FORWARDED_HEADERS}
        response = client.open(path, method=request.method, data=request.post_data_buffer, headers=headers)
        route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.data)

    context.route(ORIGIN + "/**", answer)


def test_an_uploads_progress_is_announced_by_tens_not_at_every_percent(context: BrowserContext):
    """#upload-status is a polite live region: each text put there is read aloud. At every percent an
    upload of a few minutes would talk all along, over the titles the editor types meanwhile."""
    serve(context, staff_client(EditorIdentity(), editor=NoVideos()), {"/static/vendor/tus.min.js": FAKE_TUS})
    page = context.new_page()
    page.goto(ORIGIN + "/console/videos")
    page.evaluate(
        """() => { window.said = [];
        const heard = (records) => records.forEach((r) => r.addedNodes.forEach((n) => said.push(n.data)));
        const status = document.getElementById("upload-status");
        new MutationObserver(heard).observe(status, { childList: true }); }"""
    )
    page.locator("#file").set_input_files({"name": "briefing.mp4", "mimeType": "video/mp4", "buffer": b"0"})
    expect(page.locator("#upload-status")).to_have_text(UPLOADED)
    said = page.evaluate("said")
    assert said[-1] == UPLOADED
    assert said[:-1] == [f"Uploading: {percent} %" for percent in range(0, 100, 10)] + ["Uploading: 100 %"]
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100


def test_the_message_of_a_done_action_takes_the_focus_on_the_page_it_leads_to(context: BrowserContext):
    """A flashed message is in the page as it loads (after the redirect of a form that worked): a screen
    reader announces a live region's changes, not always one there from the start. Focused, it is read."""
    serve(context, staff_client(EditorIdentity(), editor=Editor()))
    page = context.new_page()
    page.goto(f"{ORIGIN}/console/videos/{UPLOAD}")
    page.get_by_role("button", name="Save the texts").click()
    expect(page.get_by_role("status")).to_have_text("The video's texts are saved.")
    expect(page.get_by_role("status")).to_be_focused()
    # The login page's reason, after the redirect of a session that ended, likewise.
    context.unroute(ORIGIN + "/**")
    serve(context, portal_client())
    page.goto(f"{ORIGIN}/login?reason=expired")
    expect(page.get_by_role("status")).to_be_focused()


TEXT_SPACING = """* { line-height: 1.5 !important; letter-spacing: .12em !important; }
* { word-spacing: .16em !important; } p { margin-bottom: 2em !important; }"""


@pytest.mark.parametrize("path", ["/console/deliveries?email=a@example.org", "/console/videos"])
def test_a_console_page_fits_a_phone_even_with_its_text_spaced_out(browser: Browser, path):
    """WCAG 1.4.10 and 1.4.12: at 320 CSS px, with the text spacing a reader may set, nothing but a
    table's own content scrolls sideways (the table scrolls in itself)."""
    context = browser.new_context(viewport={"width": 320, "height": 640}, bypass_csp=True)
    try:
        staff = Identity(["support", "catalogue-editor"])
        serve(context, staff_client(staff, mailer=Mailer(), editor=NoVideos()))
        page = context.new_page()
        page.goto(ORIGIN + path)
        page.add_style_tag(content=TEXT_SPACING)
        assert page.evaluate("document.documentElement.scrollWidth") == 320
    finally:
        context.close()


class Transcoding:
    """The catalogue's video, as the page and then its script fetch it: processing, further, ready."""

    def __init__(self) -> None:
        self.states = [("processing", 10), ("processing", 50), ("ready", 100)]

    def video(self, token: str, video_id: str, *_: Any, **__: Any) -> dict[str, Any]:
        status, progress = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"id": UPLOAD, "status": status, "progress": progress, "title": {"en": "Briefing", "fr": ""},
                "description": {"en": "", "fr": ""}, "renditions": [], "published_at": None,
                "deletable": True, "texts_version": 1}  # fmt: skip


def test_a_videos_transcoding_is_announced_once_done_not_at_each_step(context: BrowserContext):
    """The page follows the transcoding by itself (portal.js fetches it again): a screen reader user is
    told when the video is ready, once, and not of every percent on the way."""
    serve(context, staff_client(EditorIdentity(), editor=Transcoding()))
    page = context.new_page()
    page.goto(f"{ORIGIN}/console/videos/{UPLOAD}")
    page.evaluate(
        """() => { window.said = [];
        const heard = (records) => records.forEach((r) => r.addedNodes.forEach((n) => said.push(n.data)));
        for (const region of document.querySelectorAll("[aria-live]")) {
          new MutationObserver(heard).observe(region, { childList: true, subtree: true });
        } }"""
    )
    expect(page.locator("#video-state [data-status]")).to_have_text("Ready")
    expect(page.get_by_text("Status: Ready")).to_be_attached()
    assert page.evaluate("said") == ["Status: Ready"]


def drafts_kept(page: Page) -> list[str]:
    """The keys of the drafts drafts.js keeps in this browser."""
    return list(page.evaluate("Object.keys(localStorage).filter((key) => key.startsWith('portal-draft:'))"))


def test_a_refused_account_deletion_keeps_the_drafts_and_one_that_went_through_forgets_them(
    context: BrowserContext,
):
    """The deletion's form is sent, and refused (a wrong password): the account stays, and the drafts
    kept in this browser with it. The page after a deletion that went through forgets them."""
    serve(context, staff_client(Deletion()))
    page = context.new_page()
    page.goto(ORIGIN + "/account")
    draft = {"base": "", "texts": {"body_en": "Typed, not saved."}}
    keep = "(draft) => localStorage.setItem('portal-draft:1', JSON.stringify({ ...draft, at: Date.now() }))"
    page.evaluate(keep, draft)
    page.locator("#delete_password").fill("wrong")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete_password-errors")).to_have_text("The password is not right.")
    assert drafts_kept(page) == ["portal-draft:1"], "the account stays, and its drafts"
    page.locator("#delete_password").fill("right")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("status")).to_have_text("Your account has been deleted.")
    assert drafts_kept(page) == []


# Each control of the page as the keyboard reaches it: its focus ring's colour and width, the colour of
# the gap between the ring and the control (box-shadow), and the background shown just outside the
# ring (the skip link's is the header it is drawn over, not its parent's).
FOCUS_RINGS = """async () => {
  const colour = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const background = getComputedStyle(at).backgroundColor;
      if (background !== "rgba(0, 0, 0, 0)") { return background; }
    }
    return "rgb(255, 255, 255)";
  };
  const around = (element) => {
    const box = element.getBoundingClientRect();
    const x = box.left >= 8 ? box.left - 7 : box.right + 7;
    return colour(document.elementFromPoint(x, box.top + box.height / 2));
  };
  const rings = [];
  for (let tab = 0; tab < 40; tab += 1) {
    await new Promise((resolve) => setTimeout(resolve));
    const focused = document.activeElement;
    if (focused && focused !== document.body && !rings.some((ring) => ring.element === focused)) {
      const style = getComputedStyle(focused);
      rings.push({ element: focused, name: focused.outerHTML.slice(0, 80), ring: style.outlineColor,
                   width: style.outlineWidth, gap: style.boxShadow, around: around(focused) });
    }
    await window.pressTab();
  }
  return rings.map(({ element, ...ring }) => ring);
}"""


def luminance(css_colour: str) -> float:
    """The relative luminance (WCAG) of the first rgb() of a computed CSS value."""
    found = re.search(r"rgba?\((\d+), (\d+), (\d+)", css_colour)
    assert found, css_colour
    channels = [int(value) / 255 for value in found.groups()]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("path", ["/account", "/console/videos"])
def test_every_controls_focus_ring_stands_out_three_to_one_around_it(context: BrowserContext, path):
    """WCAG 1.4.11 and 2.4.13: the ring against the page around it (white, the navy header, a notice)
    and against the gap that keeps it off the control, whatever the control's own colour."""
    serve(context, staff_client(Deletion(), editor=NoVideos()))
    page = context.new_page()
    page.goto(ORIGIN + path)
    page.expose_function("pressTab", lambda: page.keyboard.press("Tab"))
    rings = page.evaluate(FOCUS_RINGS)
    assert len(rings) > 5, rings
    for ring in rings:
        assert ring["width"] == "3px", ring
        assert contrast(ring["ring"], ring["around"]) >= 3, ring
        assert contrast(ring["ring"], ring["gap"]) >= 3, ring


RULES_SAID = {  # the length rule, not met then met
    "en": ("Not met yet: At least 12 characters", "Met: At least 12 characters"),
    "fr": ("Pas encore respectée : Au moins 12 caractères", "Respectée : Au moins 12 caractères"),
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_each_password_rule_says_in_words_whether_it_is_met(browser: Browser, language):
    """Not by its glyph and colour only: in words, for a screen reader, which hears the rules as the
    field's description, without the glyph (CSS content)."""
    context = browser.new_context(locale=language, bypass_csp=True)
    try:
        serve(context, portal_client())
        page = context.new_page()
        page.goto(ORIGIN + "/signup")
        unmet, met = RULES_SAID[language]
        field, length = page.locator("#password"), page.locator("[data-rule=length]")
        expect(length).to_have_text(unmet)
        expect(field).to_have_accessible_description(re.compile(re.escape(unmet)))
        field.fill("Correct-Horse-9!")
        expect(length).to_have_text(met)
        expect(field).to_have_accessible_description(re.compile(re.escape(met)))
        expect(field).not_to_have_accessible_description(re.compile("[✓○]|" + re.escape(unmet.split(":")[0])))
    finally:
        context.close()


def test_the_issue_previews_headings_sit_under_its_own_in_the_pages_outline(context: BrowserContext):
    """Moving from heading to heading (a screen reader's H key, its list of headings), the mail's title
    is not a second title of the page: it is under the mail's article, named by its heading."""
    serve(context, staff_client(EditorIdentity(), issues=HeadedIssue()))
    page = context.new_page()
    page.goto(f"{ORIGIN}/console/newsletter/{UPLOAD}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue")
    mail = page.get_by_role("article", name="English: Summit")
    expect(mail.get_by_role("heading", level=4)).to_have_text("Summit")
    expect(mail.get_by_role("heading", level=5)).to_have_text("Agenda")
    assert_accessible(page, "issue editor with a preview with headings")


SESSION_SAID = {
    "en": [
        "Your session ends in 2 minutes. Save your work, then log in again to keep working.",
        "Your session ends in 1 minute. Save your work, then log in again to keep working.",
        "Your session has ended. Log in again to keep working.",
    ],
    "fr": [
        "Votre session se termine dans 2 minutes. Enregistrez votre travail, puis reconnectez-vous pour "
        "continuer.",
        "Votre session se termine dans 1 minute. Enregistrez votre travail, puis reconnectez-vous pour "
        "continuer.",
        "Votre session a pris fin. Reconnectez-vous pour continuer.",
    ],
}
# What is put into the page's live regions, from the start.
LIVE_REGIONS_HEARD = """document.addEventListener("DOMContentLoaded", () => {
  window.said = [];
  const heard = (records) => records.forEach((r) => r.addedNodes.forEach((n) => said.push(n.data)));
  for (const region of document.querySelectorAll("[aria-live]")) {
    new MutationObserver(heard).observe(region, { childList: true, subtree: true });
  }
});"""


@pytest.mark.parametrize(
    ("language", "path"), [("en", "/console/videos"), ("fr", "/console/videos"), ("en", "/account")]
)
def test_a_signed_in_page_says_two_minutes_before_its_session_ends_and_when_it_has(
    browser: Browser, language, path
):
    """WCAG 2.2.1: identity lengthens no token, so the page warns, politely, with the time left, and
    offers "Log in again"; then says the session has ended. Not at every second of the countdown. The
    console's pages, and an account's own (its session ends alike)."""
    context = browser.new_context(locale=language, bypass_csp=True)
    try:
        client = staff_client(LoggingOut(), editor=NoVideos())
        with client.session_transaction() as session:
            session["token"] = token_for(5 * 60)
        serve(context, client)
        page = context.new_page()
        page.clock.install()
        page.add_init_script(LIVE_REGIONS_HEARD)
        page.goto(ORIGIN + path)
        notice = page.locator("[data-session-ends]")
        again = notice.get_by_role("button", name="Se reconnecter" if language == "fr" else "Log in again")
        page.clock.fast_forward("02:50")
        expect(notice.locator("[aria-live=polite]")).to_be_empty()
        expect(again).to_be_hidden()
        page.clock.fast_forward("00:10")  # two minutes left, or a second less
        expect(notice.locator("[aria-live=polite]")).to_have_text(SESSION_SAID[language][0])
        expect(again).to_be_visible()
        assert_accessible(page, f"{path} whose session ends in two minutes")
        page.clock.fast_forward("01:00")
        expect(notice.locator("[aria-live=polite]")).to_have_text(SESSION_SAID[language][1])
        page.clock.fast_forward("01:01")
        expect(notice.locator("[aria-live=polite]")).to_have_text(SESSION_SAID[language][2])
        page.clock.fast_forward("05:00")
        assert page.evaluate("said") == SESSION_SAID[language]
        again.click()
        expect(page).to_have_url(ORIGIN + "/login")
    finally:
        context.close()


def test_text_typed_just_before_log_in_again_is_kept_for_after_the_login(context: BrowserContext):
    """The draft is kept half a second after the typing stops; "Log in again" clicked before then
    leaves the page with the text kept all the same (and no logout forgets it)."""
    client = staff_client(LoggingOut(), issues=PastTimeIssue())
    with client.session_transaction() as session:
        session["token"] = token_for(60)
    serve(context, client)
    page = context.new_page()
    # Still: no timer fires but those run_for runs. Installed, the clock runs on with the real one,
    # and a fill and a click half a second apart (a busy machine) would let the draft's own save run.
    now = time.time()
    page.clock.install(time=now)
    page.clock.pause_at(now + 60)
    page.goto(f"{ORIGIN}/console/newsletter/{UPLOAD}")
    page.clock.run_for(1000)
    page.locator("#body_en").fill("Typed at the last second.")
    page.get_by_role("button", name="Log in again").click()
    expect(page).to_have_url(ORIGIN + "/login")
    kept = page.evaluate(f"JSON.parse(localStorage.getItem('portal-draft:issue:{UPLOAD}'))")
    assert kept and kept["texts"]["body_en"] == "Typed at the last second."


def signed_in_as(client: Any, account: str) -> None:
    with client.session_transaction() as session:
        session["token"] = jwt.encode({"sub": account, "exp": int(time.time() + 600)}, "k" * 32)


def test_a_draft_is_put_back_for_its_own_account_alone(context: BrowserContext):
    """A session that ended without a logout (a shared computer) leaves its drafts in the browser for
    their author's next login; another account logging in there is never shown them, and they go."""
    client = staff_client(LoggingOut(), issues=PastTimeIssue())
    signed_in_as(client, "author")
    serve(context, client)
    page = context.new_page()
    page.goto(f"{ORIGIN}/console/newsletter/{UPLOAD}")
    page.locator("#body_en").fill("The author's unsaved text.")
    wait_for(lambda: drafts_kept(page) == [f"portal-draft:issue:{UPLOAD}"], timeout=5, what="the draft kept")
    page.reload()
    expect(page.locator("#body_en")).to_have_value("The author's unsaved text.")  # back for its author

    signed_in_as(client, "someone-else")  # the session ended; another person logs in on this browser
    page.goto(f"{ORIGIN}/console/newsletter/{UPLOAD}")
    expect(page.locator("#body_en")).to_have_value("Text")
    expect(page.locator("[data-draft-notice]")).not_to_have_class(re.compile("notice"))
    assert drafts_kept(page) == []
