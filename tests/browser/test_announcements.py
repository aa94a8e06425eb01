"""What the console's script says to a screen reader while it works, in Chromium, on the page as the
portal renders it with fakes of the services behind it (no stack: tests/unit's test client serves it),
and tus-js-client replaced by a fake that reports an upload's progress as fast as it can."""

from typing import Any

from playwright.sync_api import BrowserContext, Route, expect

from tests.unit.test_portal import SOURCE, EditorIdentity, staff_client

ORIGIN = "http://portal.test"
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


def serve_the_videos_page(context: BrowserContext) -> None:
    page = staff_client(EditorIdentity(), editor=NoVideos()).get("/console/videos")
    assert page.status_code == 200
    files = {
        "/console/videos": (page.text, "text/html"),
        "/static/portal.js": ((SOURCE / "static/portal.js").read_text(encoding="utf-8"), "text/javascript"),
        "/static/vendor/tus.min.js": (FAKE_TUS, "text/javascript"),
    }

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
        body, content_type = files.get(path, ("", "text/plain"))
        route.fulfill(status=200 if path in files else 404, body=body, content_type=content_type)

    context.route(ORIGIN + "/**", answer)


def test_an_uploads_progress_is_announced_by_tens_not_at_every_percent(context: BrowserContext):
    """#upload-status is a polite live region: each text put there is read aloud. At every percent an
    upload of a few minutes would talk all along, over the titles the editor types meanwhile."""
    serve_the_videos_page(context)
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
