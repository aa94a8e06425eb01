"""The console's Videos page in a real browser (DESIGN §8, §9): a catalogue editor (granted by an
admin, with two-step verification) uploads a generated video through the page with
tus-js-client, the connection broken on the way and the upload resumed; creates the video with its
titles in English and French, follows the transcoding until it is ready, publishes it, and the public
page's preview actually plays in Chromium; then withdraws it. Without JavaScript, a file uploaded with
another tus client (tuspy) becomes a video through the same forms. Every page passes axe."""

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

from tests.browser.test_console import staff_session
from tests.conftest import Stack
from tests.support.catalogue import small_video
from tests.support.polling import wait_for

TRANSCODED_WITHIN_MS = 90_000
UPLOAD_PATH = re.compile(r"^/console/videos/uploads/[0-9a-f-]{36}$")
UPLOADED = "Uploaded. Now give the video its titles and create it."


def become_editor(journey, portal, stack: Stack, staff_admin, inbox, email: str) -> Page:  # type: ignore[no-untyped-def]
    return staff_session(journey, portal.url, stack, staff_admin, inbox, email, "catalogue-editor")


def test_an_editor_uploads_creates_publishes_and_withdraws_a_video(
    portal, stack, staff_admin, journey, inbox, new_email, tmp_path, browser: Browser
):
    become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    # The editor's pages under their real Content-Security-Policy (the journey's context bypasses it
    # to run axe, which follows on the same pages in the journey's own tab).
    strict = browser.new_context(
        storage_state=journey.page.context.storage_state(), viewport={"width": 1280, "height": 900}
    )
    strict.set_default_timeout(15_000)
    refused: list[str] = []
    try:
        page = strict.new_page()
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        publish_and_withdraw(page, journey, portal, tmp_path)
    finally:
        strict.close()
    assert refused == []


def check_accessible(journey, url: str, name: str) -> None:  # type: ignore[no-untyped-def]
    journey.page.goto(url)
    journey.step(name.replace(" ", "-"))


def publish_and_withdraw(page: Page, journey, portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(portal.url + "/console")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Videos").click()
    expect(page.locator("h1")).to_have_text("Videos")
    check_accessible(journey, page.url, "videos")

    # The first chunk's connection breaks: tus-js-client asks the offset (HEAD) and sends it again.
    methods: list[str] = []
    page.on("request", lambda r: methods.append(r.method) if "/console/videos/uploads/" in r.url else None)
    broken: list[str] = []

    def break_first_chunk(route: Route) -> None:
        if route.request.method == "PATCH" and not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/console/videos/uploads/**", break_first_chunk)
    page.locator("#file").set_input_files(str(small_video(tmp_path / "briefing.mp4", "320x240", 3)))
    expect(page.locator("#upload-status")).to_have_text(UPLOADED)
    assert broken and methods.count("PATCH") >= 2 and "HEAD" in methods, methods
    assert UPLOAD_PATH.match(page.locator("#upload").input_value())
    assert page.locator("#upload-progress").evaluate("bar => bar.value") == 100

    title = f"Press briefing {uuid.uuid4().hex[:6]}"
    page.locator("#title_en").fill(title)
    page.locator("#title_fr").fill(f"Point de presse {title[-6:]}")
    page.locator("#description_en").fill("The spokesperson answers questions.")
    page.locator("#description_fr").fill("La porte-parole répond aux questions.")
    page.get_by_role("button", name="Create the video").click()
    expect(page.get_by_role("status")).to_contain_text("being transcoded")
    expect(page.locator("h1")).to_have_text(title)
    # The page follows the transcoding by itself (its script fetches it again while processing).
    expect(page.locator("#video-state [data-status]")).to_have_text("Ready", timeout=TRANSCODED_WITHIN_MS)
    check_accessible(journey, page.url, "a ready video")

    # Never published, it may be deleted: the button asks first, and "Not now" leaves it as it is.
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("Delete this video for good?")
    expect(page.get_by_role("alert")).to_be_focused()  # at the foot of the page, not its top
    page.get_by_role("link", name="Not now").click()
    expect(page.locator("#video-state [data-status]")).to_have_text("Ready")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("The video is published.")
    expect(page.locator("#video-state [data-status]")).to_have_text("Published")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Videos").click()
    row = page.locator("tr[data-video]", has_text=title)
    expect(row.locator("[data-status]")).to_have_text("Published")
    check_accessible(journey, page.url, "videos with a published one")
    row.get_by_role("link").click()

    page.get_by_role("link", name="See the public page").click()
    expect(page.locator("h1")).to_have_text(title)
    assert_plays(page)

    page.go_back()
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("status")).to_have_text("The video is withdrawn: visitors no longer see it.")
    expect(page.locator("#video-state [data-status]")).to_have_text("Ready")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)  # published once: it stays


def assert_plays(page: Page) -> None:
    """The preview really plays: Chromium decodes it and its clock moves (not only the tag's presence)."""
    video = page.locator("video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); "
        "return v.readyState >= 3 && v.currentTime > 0.5; }",
        timeout=15_000,
    )
    # Read once, and "ended" taken as played: the video is 3 s long, and a busy machine may take that
    # long between the wait and a later question (an ended video is paused).
    played = video.evaluate("v => ({width: v.videoWidth, stopped: v.paused && !v.ended, error: v.error})")
    assert played["width"] > 0 and not played["stopped"] and played["error"] is None, played


def test_without_javascript_a_tus_upload_becomes_a_published_video_in_french(
    portal, stack: Stack, staff_admin, journey, inbox, new_email, tmp_path, browser: Browser
):
    """The forms alone, in a French page without script: the file uploaded with tuspy through the
    portal (the editor's session cookie and the form's CSRF token; cut after two chunks, resumed by a
    new client from the offset), its address pasted, the video created, published and withdrawn."""
    become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    context = browser.new_context(
        java_script_enabled=False, storage_state=journey.page.context.storage_state()
    )
    try:
        page = context.new_page()
        page.goto(portal.url + "/console/videos")
        page.locator("form.languages button[value=fr]").click()
        expect(page.locator("h1")).to_have_text("Vidéos")
        expect(page.locator("[data-tus-upload]")).to_be_hidden()
        page.get_by_role("button", name="Créer la vidéo").click()
        expect(page.locator("#upload-errors")).to_have_text("Téléversez d’abord le fichier de la vidéo.")

        session = {c["name"]: c["value"] for c in context.cookies()}["portal_session"]
        csrf = page.locator("input[name=csrf_token]").first.input_value()
        headers = {"Cookie": f"portal_session={session}", "X-CSRFToken": csrf}
        master, endpoint = (
            small_video(tmp_path / "archive.mp4", "320x240", 3),
            f"{portal.url}/console/videos/uploads/",
        )
        with master.open("rb") as stream:
            first = tus.TusClient(endpoint, headers=headers).uploader(
                file_stream=stream, chunk_size=64 * 1024
            )
            first.upload_chunk()
            first.upload_chunk()
            resumed = tus.TusClient(endpoint, headers=headers).uploader(
                file_stream=stream, url=first.url, chunk_size=256 * 1024
            )
            assert resumed.offset == 128 * 1024
            resumed.upload()
            without_csrf = tus.TusClient(endpoint, headers={"Cookie": headers["Cookie"]})
            with pytest.raises(TusCommunicationError):  # the session alone does not do
                without_csrf.uploader(file_stream=stream, chunk_size=64 * 1024).upload_chunk()

        page.locator("#upload").fill(str(first.url))
        page.locator("#title_fr").fill("Archives du sommet")
        page.get_by_role("button", name="Créer la vidéo").click()
        expect(page.locator("h1")).to_have_text("Archives du sommet")
        status = page.locator("#video-state [data-status]")

        def ready_after_reload() -> bool | None:
            page.reload()
            return status.inner_text() == "Prête" or None

        wait_for(
            ready_after_reload, timeout=TRANSCODED_WITHIN_MS / 1000, what="the video ready", interval=0.5
        )
        expect(page.locator("#video-state [data-status]")).to_have_text("Prête")
        page.get_by_role("button", name="Publier").click()
        expect(page.get_by_role("status")).to_have_text("La vidéo est publiée.")
        page.get_by_role("button", name="Retirer").click()
        expect(page.locator("#video-state [data-status]")).to_have_text("Prête")
    finally:
        context.close()


def refusing(method: str, status: int, slug: str, detail: str) -> Callable[[Route], None]:
    """A route answering the tus requests of `method` with the catalogue's problem+json, as the portal
    passes it on; the others go through."""

    def refuse(route: Route) -> None:
        if route.request.method != method:
            route.continue_()
            return
        problem = {"type": f"https://errors.example/{slug}", "status": status, "detail": detail}
        route.fulfill(status=status, json=problem, headers={"Tus-Resumable": "1.0.0"})

    return refuse


def upload_says(page: Page, path: Path, status: str) -> None:
    """A file chosen on the page: its upload's status says `status`, and the form holds no address."""
    page.locator("#file").set_input_files(str(small_video(path, "320x240", 1)))
    expect(page.locator("#upload-status")).to_have_text(status)
    expect(page.locator("#upload")).to_have_value("")


def test_a_file_too_large_is_said_so_and_leaves_no_former_upload_in_the_form(
    portal, stack: Stack, staff_admin, journey, inbox, new_email, tmp_path
):
    """A file the catalogue refuses as too long (its 413 to the tus creation, before any byte is sent)
    is said to be too large, not to be chosen again to resume; and the address of a file uploaded
    before it is gone from the form, which would otherwise make a video of that other file."""
    page = become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    page.goto(portal.url + "/console/videos")
    page.locator("#file").set_input_files(str(small_video(tmp_path / "first.mp4", "320x240", 1)))
    expect(page.locator("#upload-status")).to_have_text(UPLOADED)
    assert UPLOAD_PATH.match(page.locator("#upload").input_value())
    too_long = refusing("POST", 413, "upload-too-large", "An upload may hold at most 1000 bytes.")
    page.route("**/console/videos/uploads/", too_long)
    upload_says(
        page, tmp_path / "second.mp4", "This file is larger than the catalogue takes: it cannot be uploaded."
    )
    page.get_by_role("button", name="Create the video").click()
    expect(page.locator("#upload-errors")).to_have_text("Upload the video's file first.")


def test_a_file_chosen_instead_of_one_being_uploaded_stops_that_upload(
    portal, stack: Stack, staff_admin, journey, inbox, new_email, tmp_path
):
    """The editor picks the wrong file, then the right one while the first is still on its way: the
    first upload stops, and the form holds the address of the file chosen last, whatever ends first."""
    page = become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    page.goto(portal.url + "/console/videos")
    created: list[str] = []
    held: list[Route] = []
    page.on("response", lambda r: created.append(r.headers["location"])
            if r.request.method == "POST" and r.status == 201 and "/uploads/" in r.url else None)  # fmt: skip

    def hold_first(route: Route) -> None:  # the first file's chunks wait, as on a slow line
        if route.request.method == "PATCH" and created and route.request.url.endswith(created[0]):
            held.append(route)
        else:
            route.continue_()

    page.route("**/console/videos/uploads/**", hold_first)
    with page.expect_request(lambda r: r.method == "PATCH"):
        page.locator("#file").set_input_files(str(small_video(tmp_path / "wrong.mp4", "320x240", 1)))
    first = created[0]
    with page.expect_event("requestfailed", lambda r: r.method == "PATCH" and r.url.endswith(first)):
        page.locator("#file").set_input_files(str(small_video(tmp_path / "right.mp4", "320x240", 2)))
    expect(page.locator("#upload-status")).to_have_text(UPLOADED)
    assert len(created) == 2 and page.locator("#upload").input_value() == created[1]


def test_an_upload_the_catalogue_has_no_room_for_says_so_and_waits(
    portal, stack: Stack, staff_admin, journey, inbox, new_email, tmp_path
):
    """The catalogue's 507 to a chunk (its disk full; the bytes before are kept), passed on by the
    portal: the page says the disk is full and keeps trying, not that the connection broke."""
    page = become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    page.goto(portal.url + "/console/videos")
    disk_full = refusing("PATCH", 507, "insufficient-storage", "The catalogue's disk is full.")
    page.route("**/console/videos/uploads/**", disk_full)
    upload_says(
        page,
        tmp_path / "full.mp4",
        "The catalogue has no room left on its disk: the upload waits, then resumes…",
    )


def test_an_upload_after_the_session_ended_says_to_log_in_again_and_the_same_file_resumes(
    portal, stack: Stack, staff_admin, journey, inbox, new_email, tmp_path
):
    """A staff session lasts minutes and an upload may last longer: once it has ended, the page says to
    log in again and resume, not that the connection broke. The same file chosen again then uploads (a
    browser tells the page of a file chosen again only if the field was emptied)."""
    page = become_editor(journey, portal, stack, staff_admin, inbox, new_email)
    page.goto(portal.url + "/console/videos")
    session = page.context.cookies()
    page.context.clear_cookies()  # the session gone, as after it ended
    upload_says(
        page,
        tmp_path / "late.mp4",
        "Your session has ended. Reload the page and log in again, then choose the file again: "
        "the upload resumes where it stopped.",
    )
    page.context.add_cookies(session)  # [as after logging in again, here without reloading]
    page.locator("#file").set_input_files(str(tmp_path / "late.mp4"))
    expect(page.locator("#upload-status")).to_have_text(UPLOADED)
    assert UPLOAD_PATH.match(page.locator("#upload").input_value())
