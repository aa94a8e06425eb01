"""Driving Debian's chromium with Playwright: screenshots, axe-core checks and page weights as artifacts."""

import functools
import json
import os
import re
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Locator, Page, Playwright, Response

from tests.support.served import FakeHandler

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SCRIPT = REPO / ".tools/node_modules/axe-core/axe.min.js"
ARTIFACTS = REPO / ".state/artifacts"
BLOCKING_IMPACTS = ("serious", "critical")
MISSING_BROWSER = (
    "The browser tests need Debian's chromium and axe-core: run them with `make test` (make browser)."
)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def artifact_name(nodeid: str) -> str:
    """A file-system friendly name of a test (without the "@group" suffix pytest-xdist adds)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1].split("@")[0]).strip("_")


# Every step's screenshot only when asked for (BROWSER_SCREENSHOTS=steps): nobody read those of a
# passing run, and they took 23-30 s of a tests/browser run (216 full-page shots, about 15 s of
# chromium's CPU). A failed test's page is shot always (`Journey.screenshot`, from the journey fixture).
SCREENSHOTS = "BROWSER_SCREENSHOTS"


@dataclass
class Journey:
    """One test's walk through the portal: each step checked by axe-core (and screenshotted, when asked)."""

    page: Page
    folder: Path
    accessibility: bool = True
    steps: int = 0
    last_step: str = "00-start"

    def step(self, name: str) -> None:
        """With JavaScript on, assert axe-core finds nothing serious on the page."""
        self.steps += 1
        self.last_step = f"{self.steps:02d}-{name}"
        if os.environ.get(SCREENSHOTS) == "steps":
            self.screenshot(self.last_step)
        if self.accessibility:
            assert_accessible(self.page, name)

    def screenshot(self, name: str) -> Path:
        """The page, full length, as `<name>.jpg` in the journey's folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # JPEG: a third less of chromium's CPU than PNG for a full page, and still readable.
        path = self.folder / f"{name}.jpg"
        self.page.screenshot(path=str(path), full_page=True, type="jpeg", quality=85)
        return path


class AxeHandler(FakeHandler):
    """axe-core for the pages to load by URL, cacheable: chromium then reads it from its cache, and
    compiles it from its code cache, at every page of a context after the first (injected as text, the
    half-megabyte script crossed Playwright's pipe and was compiled anew at every page: 0.5 s each)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = AXE_SCRIPT.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400, immutable")
        self.end_headers()
        self.wfile.write(body)


@functools.cache
def axe_url() -> str:
    """Where this test process serves axe-core (on a daemon thread, from the first check to its exit)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AxeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/axe.min.js"


def _inject_axe(page: Page) -> None:
    """axe-core by URL for the stack's pages; as text for a page of another address (the fakes'
    portal.test), which Chromium lets load nothing from this machine (Private Network Access)."""
    if urlsplit(page.url).hostname == "127.0.0.1":
        page.add_script_tag(url=axe_url())
    else:
        page.add_script_tag(path=AXE_SCRIPT)


def assert_accessible(page: Page, name: str) -> None:
    """axe-core (WCAG 2 A/AA rules) reports no serious or critical violation on the page."""
    # A step may follow a click whose navigation has committed but whose document is not parsed yet
    # (no <head> to add axe to: CI run of stop 47); the page as loaded is the one to check.
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        _inject_axe(page)
    # resultTypes: only violations list every node; passes and the rest name one each, which axe
    # documents as the way to cut its time on large pages. The verdict is the same.
    result = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']},
            resultTypes: ['violations'],
        })"""
    )
    blocking = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["html"] for n in v["nodes"]][:3],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"accessibility violations on {name} ({page.url}):\n{json.dumps(blocking, indent=2)}"


class PageWeights:
    """Bytes of HTML, CSS and JavaScript each page of the portal loads, written as an artifact."""

    def __init__(self, portal_url: str) -> None:
        self.portal_url = portal_url
        self.pages: dict[str, dict[str, int]] = {}
        self._current: dict[str, int] | None = None

    def watch(self, page: Page) -> None:
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        if not response.url.startswith(self.portal_url) or response.status >= 300:
            return
        kind = response.request.resource_type
        if kind == "document":
            path = response.url[len(self.portal_url) :].split("?", 1)[0] or "/"
            self._current = self.pages.setdefault(path, {})
        if self._current is None or kind not in ("document", "stylesheet", "script"):
            return
        try:
            size = len(response.body())
        except Exception:  # noqa: BLE001 - a response the browser no longer holds is not counted
            return
        self._current[kind] = max(self._current.get(kind, 0), size)

    def write(self) -> Path:
        totals = {path: {**sizes, "total": sum(sizes.values())} for path, sizes in self.pages.items()}
        ordered = dict(sorted(totals.items(), key=lambda item: -item[1]["total"]))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / "page-weight.json"
        target.write_text(json.dumps(ordered, indent=2) + "\n")
        return target


def no_horizontal_scroll(page: Page) -> bool:
    """Whether the page fits the screen's width. On a phone a wider page does not scroll: the browser
    widens its layout viewport and zooms out (window.innerWidth grows too), so the screen decides."""
    fits = "() => document.documentElement.scrollWidth <= Math.min(window.innerWidth, screen.width)"
    return bool(page.evaluate(fits))


def errors_next_to(page: Page, field: str) -> Locator:
    """The error messages shown next to a form field (tied to it by aria-describedby), for `expect`:
    read at once after a submit, they are those of a page the browser may still be parsing (its
    navigation committed, the list there, not all of its items)."""
    return page.locator(f"#{field}-errors")
