"""A journey leaves a screenshot of the page where its test failed, and none of a passing test's steps
unless asked (BROWSER_SCREENSHOTS=steps): walks run by pytest in a process of its own, on the browser
tests' journey fixture and chromium, over pages of their own (no portal)."""

import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.support.browser import ARTIFACTS, REPO, SCREENSHOTS

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

from tests.support.browser import PageWeights

pytest_plugins = ["tests.browser.conftest"]


@pytest.fixture(scope="session")
def page_weights():
    return PageWeights("http://127.0.0.1:9")  # no portal: nothing to weigh, nothing written


@pytest.fixture
def context_options():
    return {"java_script_enabled": False}  # no axe-core: the screenshots are the subject
"""

WALKS = """
PAGE = "<!doctype html><html lang=en><title>A walk</title><main><h1>{heading}</h1></main></html>"


def test_passing_walk_RUN(journey):
    journey.page.set_content(PAGE.format(heading="Fine"))
    journey.step("fine")


def test_failing_walk_RUN(journey):
    journey.page.set_content(PAGE.format(heading="Fine"))
    journey.step("fine")
    journey.page.set_content(PAGE.format(heading="Broken"))
    assert False, "the walk fails after its first step"


def test_shown_walk_RUN(journey, monkeypatch):
    monkeypatch.setenv("BROWSER_SCREENSHOTS", "steps")
    journey.page.set_content(PAGE.format(heading="Fine"))
    journey.step("fine")
"""
WALK_NAMES = ("passing", "failing", "shown")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The walks' names end with this; their screenshots go when the test ends."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv(SCREENSHOTS, raising=False)
    run = uuid.uuid4().hex[:8]
    yield run
    for name in WALK_NAMES:
        shutil.rmtree(ARTIFACTS / "screenshots" / f"test_{name}_walk_{run}", ignore_errors=True)


def test_a_journey_shoots_the_page_a_test_failed_on_and_each_step_only_when_asked(
    pytester: pytest.Pytester, run: str
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_walks=WALKS.replace("RUN", run))
    # Without the plugins the walks do not use: loading Schemathesis and Hypothesis took 1.5 s of the
    # walks' process's 2.5 s start (the test: 5.3-8.1 s, then 3.9-4.4 s).
    unused = ("-p", "no:xdist", "-p", "no:schemathesis", "-p", "no:hypothesispytest")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *unused)
    result.assert_outcomes(passed=2, failed=1)
    shots = {
        name: sorted(path.name for path in (ARTIFACTS / "screenshots" / f"test_{name}_walk_{run}").glob("*"))
        for name in WALK_NAMES
    }
    assert shots == {"passing": [], "failing": ["failed-after-01-fine.jpg"], "shown": ["01-fine.jpg"]}
    failed = ARTIFACTS / "screenshots" / f"test_failing_walk_{run}" / "failed-after-01-fine.jpg"
    assert failed.read_bytes()[:3] == b"\xff\xd8\xff", "a JPEG"
