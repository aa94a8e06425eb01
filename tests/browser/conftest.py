"""The portal as a running process over the e2e stack (identity, mailer), driven by Debian's chromium.

The catalogue and the newsletter join when their packages are installed in this tree (`catalogue`
and `newsletter` commands in the virtual environment): each runs as web + worker with a database
and consumer group of its own, on the stack's topics (`Stack.topic_prefix`). Without them the
portal runs with nothing listening at their addresses, shows that they are unavailable, and the
steps that need them are skipped, saying so.
"""

import contextlib
import secrets
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from accounts_common.db import MigrationSet
from accounts_common.events import Topic, dead_letter_topic
from catalogue.adapters.media import render_thumbnail, render_video
from catalogue.domain.videos import NewRendition
from catalogue.migrations import CATALOGUE_MIGRATIONS
from newsletter.migrations import NEWSLETTER_MIGRATIONS
from tests.conftest import RUN_ID, Infra, Stack, fresh_topics, migrated_database
from tests.e2e.conftest import E2E_PASSWORD, stack_staff_header
from tests.support.browser import (
    ARTIFACTS,
    AXE_SCRIPT,
    CHROMIUM,
    MISSING_BROWSER,
    Journey,
    PageWeights,
    artifact_name,
    launch,
)
from tests.support.http import call
from tests.support.processes import ServiceProcess, free_port, stop_all
from tests.support.staff import AdminGrants

PASSWORD = E2E_PASSWORD  # that of the accounts made through identity (flows.account_made_through_identity)
SAMPLE_ENCODING = NewRendition("720p MP4", "mp4", "h264", 1280, 720, 1_000_000, "summit.mp4")
SEED_ARTICLE = (
    "NATO Secretary General Jens Stoltenberg welcomed the Belgian Minister of Defence Ludivine Dedonder "
    "to NATO Headquarters on Thursday (11 February), ahead of the next week’s meeting of the defence "
    "ministers that will take place by secure video conferencing. This was the first meeting between "
    "Mr. Stoltenberg and Ms. Dedonder.\n"
    "The Secretary General and the Belgian Defence Minister also discussed NATO-EU partnership and the "
    "NATO 2030 initiative that aims to make the Alliance even stronger for the future."
)


@dataclass(frozen=True)
class Portal:
    url: str
    catalogue_url: str
    newsletter_url: str
    sample: "SampleVideo"


@dataclass(frozen=True)
class SampleVideo:
    id: str
    title: str
    rendition_label: str
    content: bytes
    title_fr: str = ""


def service_env(
    infra: Infra, stack: Stack, prefix: str, group: str, migrations: MigrationSet
) -> dict[str, str]:
    """What the catalogue and the newsletter share: Kafka and the stack's topics, identity's keys, their
    own database (migrated in this process, as the stack's: see tests/conftest.py) and group (and its
    dead-letter topic)."""
    fresh_topics(infra, Topic(dead_letter_topic(group), partitions=1))
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        f"{prefix}_TOPIC_PREFIX": stack.topic_prefix,
        "IDENTITY_JWKS_URL": f"{stack.identity_url}/.well-known/jwks.json",
        f"{prefix}_DATABASE_URL": migrated_database(infra, f"browser_{prefix.lower()}", migrations),
        f"{prefix}_CONSUMER_GROUP": group,
    }


def run_web_and_worker(name: str, env: dict[str, str], logs: Path) -> tuple[str, list[ServiceProcess]]:
    port = free_port()
    env = {f"{name.upper()}_PUBLIC_URL": f"http://127.0.0.1:{port}", **env}
    web = ServiceProcess(f"{name}-web", [name, "web", "--port", str(port)], env, logs).start()
    worker = ServiceProcess(f"{name}-worker", [name, "worker"], env, logs).start()
    web.wait_http(f"http://127.0.0.1:{port}/readyz")
    return f"http://127.0.0.1:{port}", [web, worker]


@pytest.fixture(scope="session")
def catalogue(
    infra: Infra,
    stack: Stack,
    staff_admin: AdminGrants,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, SampleVideo]]:
    """The running catalogue with one video (the seed's article as its description)."""
    media = tmp_path_factory.mktemp("catalogue-media")
    # Real media, so that the video page's player loads the file's metadata as a browser would.
    render_video(media / "summit.mp4", SAMPLE_ENCODING, 2, "testsrc2")
    render_thumbnail(media / "summit.jpg", "testsrc2")
    content = (media / "summit.mp4").read_bytes()
    env = {
        **service_env(infra, stack, "CATALOGUE", f"catalogue-browser-{RUN_ID}", CATALOGUE_MIGRATIONS),
        "CATALOGUE_STORAGE_ROOT": str(media),
        "CATALOGUE_UPLOAD_ROOT": str(tmp_path_factory.mktemp("catalogue-uploads")),
        "CATALOGUE_DOWNLOAD_LINK_KEY": secrets.token_urlsafe(32),
        # Not its default port, 9106, which `make run`'s worker (or another checkout's tests) may hold.
        "CATALOGUE_WORKER_METRICS_PORT": "0",
    }
    logs = tmp_path_factory.mktemp("catalogue-logs")
    url, processes = run_web_and_worker("catalogue", env, logs)
    # The console's Videos page uploads through the portal; the transcoder makes the renditions.
    transcoder_env = {**env, "CATALOGUE_TRANSCODER_METRICS_PORT": "0"}
    processes.append(
        ServiceProcess("catalogue-transcoder", ["catalogue", "transcoder"], transcoder_env, logs).start()
    )
    try:
        editor = stack_staff_header(stack, infra, staff_admin, "catalogue-editor")
        yield url, ingest_sample(url, content, editor)
    finally:
        stop_all(processes)


def ingest_sample(catalogue_url: str, content: bytes, editor: dict[str, str]) -> SampleVideo:
    title = f"Secretary General meets the Belgian Minister of Defence {RUN_ID}"
    encoding = SAMPLE_ENCODING
    rendition = {"label": encoding.label, "container": encoding.container, "codec": encoding.codec,
                 "width": encoding.width, "height": encoding.height, "bitrate": encoding.bitrate,
                 "path": encoding.storage_key}  # fmt: skip
    title_fr = f"Le Secrétaire général reçoit la ministre belge {RUN_ID}"
    video = {"title": {"en": title, "fr": title_fr},
             "description": {"en": SEED_ARTICLE, "fr": ""}, "published_at": "2021-02-11T14:00:00Z",
             "duration": 95, "tags": ["summit"], "renditions": [rendition],
             "thumbnail": "summit.jpg"}  # fmt: skip
    status, created = call("POST", f"{catalogue_url}/v1/videos/imports", video, editor)
    assert status == 201, created
    return SampleVideo(created["id"], title, rendition["label"], content, title_fr)


@pytest.fixture(scope="session")
def portal_port() -> int:
    """The portal's port, chosen first: the newsletter's unsubscribe links open the portal's page."""
    return free_port()


@pytest.fixture(scope="session")
def newsletter_editor(stack: Stack, infra: Infra, staff_admin: AdminGrants) -> dict[str, str]:
    """The Authorization header of a newsletter editor of the stack's identity."""
    return stack_staff_header(stack, infra, staff_admin, "newsletter-editor")


@pytest.fixture(scope="session")
def newsletter_url(
    infra: Infra,
    stack: Stack,
    portal_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The running newsletter's URL."""
    env = {
        **service_env(infra, stack, "NEWSLETTER", f"newsletter-browser-{RUN_ID}", NEWSLETTER_MIGRATIONS),
        "NEWSLETTER_UNSUBSCRIBE_KEY": secrets.token_urlsafe(32),
        "PORTAL_URL": f"http://127.0.0.1:{portal_port}",
        "NEWSLETTER_WORKER_METRICS_PORT": str(free_port()),
        "NEWSLETTER_RELAY_METRICS_PORT": "0",
    }
    logs = tmp_path_factory.mktemp("newsletter-logs")
    url, processes = run_web_and_worker("newsletter", env, logs)
    # The relay publishes the editors' test sends (and the subscription events, the audit records).
    processes.append(ServiceProcess("newsletter-relay", ["newsletter", "relay"], env, logs).start())
    try:
        yield url
    finally:
        stop_all(processes)


@pytest.fixture(scope="session")
def mailer_web_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The mailer's web (deliveries and dead letters, for the console) over the stack's mailer."""
    port = free_port()
    env = {**stack.identity_env, "IDENTITY_JWKS_URL": f"{stack.identity_url}/.well-known/jwks.json"}
    web = ServiceProcess(
        "mailer-web", ["mailer", "web", "--port", str(port)], env, tmp_path_factory.mktemp("mailer")
    )
    web.start()
    try:
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}"
    finally:
        web.stop()


@pytest.fixture(scope="session")
def portal(
    stack: Stack,
    catalogue: tuple[str, SampleVideo],
    newsletter_url: str,
    mailer_web_url: str,
    portal_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Portal]:
    catalogue_url, sample = catalogue
    port = portal_port
    env = {
        "ACCOUNTS_ENV": "development",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_IDENTITY_URL": stack.identity_url,
        "PORTAL_CATALOGUE_URL": catalogue_url,
        "PORTAL_CATALOGUE_PUBLIC_URL": catalogue_url,
        "PORTAL_NEWSLETTER_URL": newsletter_url,
        "PORTAL_MAILER_URL": mailer_web_url,
        "PORTAL_SECURE_COOKIES": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("portal-prometheus")),
    }
    process = ServiceProcess(
        "portal-web", ["portal", "web", "--port", str(port)], env, tmp_path_factory.mktemp("portal-logs")
    )
    process.start()
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield Portal(f"http://127.0.0.1:{port}", catalogue_url, newsletter_url, sample)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def page_weights(portal: Portal) -> Iterator[PageWeights]:
    weights = PageWeights(portal.url)
    yield weights
    weights.write()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (AXE_SCRIPT.exists() and Path(CHROMIUM).exists()):
        pytest.fail(MISSING_BROWSER)
    with sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context_options() -> dict[str, object]:
    """Options of the test's browser context; a test overrides it for a phone, French, or no JavaScript."""
    return {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


@pytest.fixture
def context(browser: Browser, context_options: dict[str, object]) -> Iterator[BrowserContext]:
    # bypass_csp: the page's Content-Security-Policy would refuse the injected axe-core script.
    created = browser.new_context(bypass_csp=True, **context_options)  # type: ignore[arg-type]
    created.set_default_timeout(15_000)
    try:
        yield created
    finally:
        created.close()


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Marks a test whose call failed, for its journey to leave a screenshot of the page."""
    report: pytest.TestReport = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


@pytest.fixture
def journey(
    context: BrowserContext,
    context_options: dict[str, object],
    page_weights: PageWeights,
    request: pytest.FixtureRequest,
) -> Iterator[Journey]:
    """The test's walk; when the test fails, a screenshot of the page it ended on (after its last step)."""
    page: Page = context.new_page()
    page_weights.watch(page)
    folder = ARTIFACTS / "screenshots" / artifact_name(request.node.nodeid)
    for old in folder.glob("*.*"):
        old.unlink()
    walk = Journey(page, folder, accessibility=context_options.get("java_script_enabled", True) is not False)
    yield walk
    if request.node.stash.get(CALL_FAILED, False):
        with contextlib.suppress(PlaywrightError):  # a page closed or crashed leaves no screenshot
            walk.screenshot(f"failed-after-{walk.last_step}")


@pytest.fixture
def new_email() -> str:
    return f"browser-{uuid.uuid4().hex[:12]}@example.org"


@pytest.fixture
def inbox(infra: Infra):  # type: ignore[no-untyped-def]
    return infra.inbox
