"""The portal as a running process over the e2e stack (identity, mailer), driven by Debian's chromium.

The catalogue and newsletter services join when their packages are installed in this tree
(`catalogue`, `newsletter` commands in the virtual environment); until then the portal runs with
nothing listening at their addresses, and only the steps that need them wait for them (see
`catalogue` and `newsletter` below: the one place to wire them).
"""

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import Infra
from tests.e2e.conftest import Stack, stack  # noqa: F401 - the e2e stack fixture, shared
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
from tests.support.processes import VENV_BIN, ServiceProcess, free_port

PASSWORD = "Correct-Horse-9!"


@dataclass(frozen=True)
class Portal:
    url: str
    catalogue_url: str | None
    newsletter_url: str | None


def installed(command: str) -> bool:
    return (VENV_BIN / command).exists()


@pytest.fixture(scope="session")
def catalogue_url() -> str | None:
    """The running catalogue's URL, None while the catalogue is not part of this tree."""
    if not installed("catalogue"):
        return None
    raise NotImplementedError("start the catalogue here (migrate, web, worker) and seed a video with a file")


@pytest.fixture(scope="session")
def newsletter_url() -> str | None:
    """The running newsletter's URL, None while the newsletter is not part of this tree."""
    if not installed("newsletter"):
        return None
    raise NotImplementedError("start the newsletter here (migrate, web, worker)")


@pytest.fixture(scope="session")
def portal(
    stack: Stack,  # noqa: F811
    catalogue_url: str | None,
    newsletter_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Portal]:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: the portal says the service is unavailable
    port = free_port()
    env = {
        "ACCOUNTS_ENV": "development",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_IDENTITY_URL": stack.identity_url,
        "PORTAL_CATALOGUE_URL": catalogue_url or nowhere,
        "PORTAL_NEWSLETTER_URL": newsletter_url or nowhere,
        "PORTAL_SECURE_COOKIES": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("portal-prometheus")),
    }
    process = ServiceProcess(
        "portal-web", ["portal", "web", "--port", str(port)], env, tmp_path_factory.mktemp("portal-logs")
    )
    process.start()
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        yield Portal(f"http://127.0.0.1:{port}", catalogue_url, newsletter_url)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def page_weights(portal: Portal) -> Iterator[PageWeights]:
    weights = PageWeights(portal.url)
    yield weights
    weights.write()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (AXE_SCRIPT.exists() and CHROMIUM and VENV_BIN.exists()):
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


@pytest.fixture
def journey(
    context: BrowserContext,
    context_options: dict[str, object],
    page_weights: PageWeights,
    request: pytest.FixtureRequest,
) -> Journey:
    page: Page = context.new_page()
    page_weights.watch(page)
    folder = ARTIFACTS / "screenshots" / artifact_name(request.node.nodeid)
    for old in folder.glob("*.png"):
        old.unlink()
    return Journey(page, folder, accessibility=context_options.get("java_script_enabled", True) is not False)


@pytest.fixture
def new_email() -> str:
    return f"browser-{uuid.uuid4().hex[:12]}@example.org"


@pytest.fixture
def inbox(infra: Infra):  # type: ignore[no-untyped-def]
    return infra.inbox
