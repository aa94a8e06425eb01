"""What axe cannot tell of the portal's pages (WCAG 2.2 AA), read in their markup and stylesheet: what
a screen reader announces and when, what each page's title says, and how the CSS lays pages out."""

import re
from typing import Any

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import (
    SOURCE,
    UPLOAD,
    EditorIdentity,
    FakeCatalogue,
    PastTimeIssue,
    SentIssue,
    portal_client,
    staff_client,
)
from tests.unit.test_portal_console_audit import LongTrail
from tests.unit.test_portal_console_videos import CatalogueDown

STYLESHEET = (SOURCE / "static/portal.css").read_text(encoding="utf-8")


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found, "the page has no title"
    return found.group(1)


def tag(page: str, pattern: str) -> str:
    """The first opening tag of `page` matching `pattern` (a regular expression of its start)."""
    found = re.search(pattern + r"[^>]*>", page)
    assert found, f"no tag {pattern} in the page"
    return found.group(0)


def test_the_live_preview_is_not_read_aloud_each_time_the_editor_stops_typing():
    """The preview is the whole mail in both languages, redrawn 400 ms after each pause in typing: as
    a live region, a screen reader would read all of it again over the editor's typing. The editor
    reads it when they choose, under its heading."""
    client = staff_client(EditorIdentity(), issues=SentIssue())
    for path in ("/console/newsletter/new", f"/console/newsletter/{UPLOAD}"):
        page = client.get(path)
        assert page.status_code == 200
        assert "aria-live" not in tag(page.text, r'<div id="issue-preview"')


class WithoutSecondFactor(EditorIdentity):
    def me(self, token: str) -> dict[str, object]:
        return {**super().me(token), "second_factor": False}


def test_the_console_refused_for_want_of_a_second_factor_is_not_titled_console():
    """The title is the first thing a screen reader says of a page: "Console" would say one is in."""
    refused = staff_client(WithoutSecondFactor()).get("/console")
    assert refused.status_code == 403
    assert title_of(refused.text).startswith("Error: Log in with your second factor — ")


@pytest.mark.parametrize(
    ("fakes", "path", "status"),
    [
        ({}, "/", 200),  # the catalogue does not answer
        ({"catalogue": FakeCatalogue()}, "/?page=10001", 404),
        ({"catalogue": FakeCatalogue()}, "/?q=%E2%80%AE", 400),
        ({}, f"/videos/{UPLOAD}", 200),
    ],
)
def test_a_video_page_that_could_not_be_shown_is_titled_an_error(fakes, path, status):
    page = portal_client(fakes=fakes).get(path)
    assert page.status_code == status
    assert title_of(page.text).startswith("Error: ")
    assert not title_of(portal_client(fakes={"catalogue": FakeCatalogue()}).get("/").text).startswith("Error")


class EditorAndAdmin:
    def me(self, token: str) -> dict[str, object]:
        roles = ["newsletter-editor", "catalogue-editor", "admin"]
        return {"email": "editor@example.org", "roles": roles, "second_factor": True}


class NoSuchPage(SentIssue):
    def list(self, token: str, page: int = 1) -> dict[str, object]:
        raise ApiError(422, "validation-error", errors={"page": ["Must be between 1 and 10000."]})


@pytest.mark.parametrize(
    ("fakes", "path", "status"),
    [
        ({"editor": CatalogueDown()}, "/console/videos", 503),
        ({"issues": NoSuchPage()}, "/console/newsletter?page=10001", 404),
        ({"staff": LongTrail()}, "/console/audit?page=4", 404),
    ],
)
def test_a_console_list_that_could_not_be_shown_is_titled_an_error(fakes: dict[str, Any], path, status):
    page = staff_client(EditorAndAdmin(), **fakes).get(path)
    assert page.status_code == status
    assert title_of(page.text).startswith("Error: ")


def declarations(selector: str) -> str:
    """The declarations of the stylesheet's rules that name `selector` on its own, one after another."""
    found = []
    for selectors, body in re.findall(
        r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", STYLESHEET, flags=re.S)
    ):
        if selector in (part.strip() for part in selectors.split(",")):
            found.append(body)
    return ";".join(found)


def test_the_header_language_switch_is_not_laid_out_as_the_editors_language_columns():
    """The switch's two buttons side by side, small: not stretched each to a column of 18rem (the
    whole width of a phone), as the console's English and French editors are."""
    page = portal_client(fakes={"catalogue": FakeCatalogue()}).get("/").text
    switch = tag(page, r'<form method="post" action="/language"')
    classes = re.search(r'class="([^"]+)"', switch).group(1).split()  # type: ignore[union-attr]
    for name in classes:
        assert "grid" not in declarations("." + name), name


ENGLISH_ONLY = {"en": "Exercise", "fr": ""}


class EnglishOnlyVideo:
    VIDEO: dict[str, Any] = {"id": UPLOAD, "status": "ready", "title": ENGLISH_ONLY,
                             "description": ENGLISH_ONLY, "renditions": [], "published_at": None,
                             "deletable": True, "texts_version": 1}  # fmt: skip

    def videos(self, token: str, page: int = 1) -> dict[str, Any]:
        return {"items": [self.VIDEO], "total": 1, "page": page, "per_page": 50}

    def video(self, token: str, video_id: str, *_: Any, **__: Any) -> dict[str, Any]:
        return self.VIDEO


class EnglishOnlyIssue(SentIssue):
    ISSUE = {**SentIssue.ISSUE, "subject": {"en": "Exercise"}, "body": {"en": "Text"}}


@pytest.mark.parametrize(
    ("fakes", "path"),
    [
        ({"editor": EnglishOnlyVideo()}, "/console/videos"),
        ({"editor": EnglishOnlyVideo()}, f"/console/videos/{UPLOAD}"),
        ({"issues": EnglishOnlyIssue()}, "/console/newsletter"),
    ],
)
def test_a_text_shown_in_the_other_language_for_want_of_one_in_the_pages_is_marked_so(fakes, path):
    """WCAG 3.1.2: an English title on a French page, read with the French voice, is hard to follow."""
    page = staff_client(EditorIdentity(), **fakes).get(path, headers={"Accept-Language": "fr"})
    assert page.status_code == 200
    assert '<span lang="en">Exercise</span>' in page.text
    english = staff_client(EditorIdentity(), **fakes).get(path, headers={"Accept-Language": "en"})
    assert "Exercise" in english.text and 'lang="en">Exercise' not in english.text


def test_an_issues_page_is_titled_with_its_subject():
    """WCAG 2.4.2: every issue's page was titled "Issue", in each of an editor's tabs alike."""
    client = staff_client(EditorIdentity(), issues=PastTimeIssue())
    page = client.get(f"/console/newsletter/{UPLOAD}")
    assert title_of(page.text).startswith("Summit — Issue — ")
    assert "<h1>Issue</h1>" in page.text
    french = client.get(f"/console/newsletter/{UPLOAD}", headers={"Accept-Language": "fr"})
    assert title_of(french.text).startswith("Sommet — ")
    assert title_of(client.get("/console/newsletter/new").text).startswith("New issue — ")
