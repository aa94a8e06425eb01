"""A video's title or description shown in the other language (it has none in the page's) is marked
with its own language, so that a screen reader reads it with the right voice (WCAG 3.1.2)."""

import re
from typing import Any

from portal.adapters.catalogue import CatalogueClient
from tests.unit.test_portal import UPLOAD, portal_client

# Written in English only, its description in French only.
VIDEO = {"id": UPLOAD, "title": {"en": "Summit in Vilnius", "fr": ""},
         "description": {"en": "", "fr": "Les chefs d’État réunis."}, "renditions": [], "thumbnail": None,
         "published_at": "2026-07-11T10:00:00+00:00", "duration": 95}  # fmt: skip


class CatalogueApi:
    """The catalogue's public API, as JSON, with that one video."""

    base_url = "https://catalogue.example.org"

    def call(self, method: str, path: str, body: object = None, **options: Any) -> dict[str, object]:
        if path == "/v1/videos":
            return {"items": [VIDEO], "total": 1, "page": 1, "per_page": 12}
        return VIDEO


def client():  # type: ignore[no-untyped-def]
    return portal_client(fakes={"catalogue": CatalogueClient(CatalogueApi())})  # type: ignore[arg-type]


def test_a_title_in_the_other_language_is_marked_with_its_language_in_the_list():
    french = client().get("/", headers={"Accept-Language": "fr"})
    assert re.search(r'<h2 lang="en"><a href="[^"]+">Summit in Vilnius</a></h2>', french.text)
    english = client().get("/", headers={"Accept-Language": "en"})
    assert "<h2><a" in english.text and 'lang="en"><a' not in english.text


def test_the_video_pages_texts_in_the_other_language_are_marked_with_theirs():
    french = client().get(f"/videos/{UPLOAD}", headers={"Accept-Language": "fr"})
    assert '<h1 lang="en">Summit in Vilnius</h1>' in french.text
    assert '<div class="description">' in french.text
    english = client().get(f"/videos/{UPLOAD}", headers={"Accept-Language": "en"})
    assert "<h1>Summit in Vilnius</h1>" in english.text
    assert '<div class="description" lang="fr">' in english.text
