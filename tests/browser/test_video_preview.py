"""The video page plays the preview in the page for anyone: an HTML5 <video> with the poster whose
source answers byte ranges (206) without an account, under the page's real Content-Security-Policy;
the downloads come before the text on a phone, with "Log in to download" and real "Log in" and
"create an account" links; each rendition's SHA-256 is shown. In English and in French."""

import base64
import hashlib

import pytest
from playwright.sync_api import Browser, Response, expect

from tests.support.browser import Journey

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WORDS = {
    "en": {"log_in_to_download": "Log in to download", "log_in": "Log in", "create": "create an account",
           "preview": "Preview: ", "heading": "Download"},
    "fr": {"log_in_to_download": "Se connecter pour télécharger", "log_in": "Connectez-vous",
           "create": "créez un compte", "preview": "Aperçu : ", "heading": "Télécharger"},
}  # fmt: skip
LANGUAGES = {
    "en": {"locale": "en-GB", "extra_http_headers": {"Accept-Language": "en-GB,en;q=0.9"}},
    "fr": {"locale": "fr-FR", "extra_http_headers": {"Accept-Language": "fr-FR,fr;q=0.9"}},
}


@pytest.mark.parametrize(
    ("language", "context_options"), [(code, {**PHONE, **options}) for code, options in LANGUAGES.items()],
    ids=list(LANGUAGES),
)  # fmt: skip
def test_a_visitor_sees_the_preview_and_how_to_download_on_a_phone(portal, journey: Journey, language):
    words, sample, page = WORDS[language], portal.sample, journey.page
    page.goto(f"{portal.url}/videos/{sample.id}")
    video = page.locator("video")
    expect(video).to_have_count(1)
    expect(video).to_have_attribute("controls", "")
    expect(video).to_have_attribute("preload", "metadata")
    title = sample.title_fr if language == "fr" else sample.title  # the page's language
    expect(video).to_have_attribute("aria-label", words["preview"] + title)
    assert (video.get_attribute("poster") or "").endswith(f"/v1/videos/{sample.id}/thumbnail")
    source = page.locator("video source").get_attribute("src")
    assert source and source.startswith(portal.catalogue_url)

    # No cookie, no token: a plain request for a few bytes, as the player makes.
    ranged = page.context.request.get(source, headers={"Range": "bytes=0-99"}, fail_on_status_code=True)
    assert ranged.status == 206
    assert ranged.body() == sample.content[:100]
    digest = base64.b64encode(hashlib.sha256(sample.content).digest()).decode()
    assert ranged.headers["repr-digest"] == f"sha-256=:{digest}:"

    downloads = page.get_by_role("region", name=words["heading"])
    login = page.get_by_role("link", name=f"{words['log_in_to_download']} {sample.rendition_label}")
    expect(login).to_have_text(words["log_in_to_download"])
    assert "/login" in (login.get_attribute("href") or "")
    expect(downloads.get_by_role("link", name=words["log_in"], exact=True)).to_have_attribute(
        "href", "/login?reason=download"
    )
    expect(downloads.get_by_role("link", name=words["create"], exact=True)).to_have_attribute(
        "href", "/signup"
    )
    expect(downloads).to_contain_text(hashlib.sha256(sample.content).hexdigest())
    # On a phone the downloads come right after the player, before the article.
    description_top = page.locator(".description").bounding_box()["y"]  # type: ignore[index]
    assert downloads.bounding_box()["y"] < description_top  # type: ignore[index]
    journey.step(f"video-page-{language}")


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_chromium_loads_the_preview_under_the_page_policy(portal, browser: Browser, language):
    """Without bypassing the page's CSP (the journeys bypass it for axe): the player itself fetches its
    source with a Range header, gets 206, and reaches the file's metadata (duration); the poster shows."""
    context = browser.new_context(**LANGUAGES[language])  # type: ignore[arg-type]
    try:
        page = context.new_page()
        media: list[Response] = []
        page.on("response", lambda response: media.append(response) if "/preview" in response.url else None)
        page.goto(f"{portal.url}/videos/{portal.sample.id}")
        page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=15_000)
        assert page.evaluate("() => document.querySelector('video').duration") == pytest.approx(2, abs=0.2)
        assert any(response.status == 206 and response.request.headers.get("range") for response in media), [
            (response.status, response.request.headers) for response in media
        ]
        page.goto(f"{portal.url}/")  # the list's posters, from the catalogue too
        poster = page.locator(f"img[src$='/v1/videos/{portal.sample.id}/thumbnail']").first
        poster.scroll_into_view_if_needed()
        loaded = "image => image.complete && image.naturalWidth > 0"
        page.wait_for_function(loaded, arg=poster.element_handle(), timeout=10_000)
    finally:
        context.close()
