"""The catalogue's HTTP API, as the portal uses it (DESIGN §3)."""

import urllib.parse
from typing import Any

from portal.adapters.http import JsonApi

PER_PAGE = 12


class CatalogueClient:
    """Video list and search, video details, download links."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def videos(self, query: str, page: int, language: str = "en") -> dict[str, Any]:
        """{items, total, page, per_page}; titles and descriptions in `language` (see `in_language`)."""
        found = self.api.call("GET", "/v1/videos", query={"q": query, "page": page, "per_page": PER_PAGE})
        found["items"] = [in_language(item, language) for item in found["items"]]
        return found

    def video(self, video_id: str, language: str = "en") -> dict[str, Any]:
        """Title, description (in `language`), renditions, …"""
        return in_language(
            self.api.call("GET", f"/v1/videos/{urllib.parse.quote(video_id, safe='')}"), language
        )

    def download_link(self, token: str, video_id: str, rendition_id: str) -> str:
        """A short-lived URL of the file (absolute; the catalogue may answer a path of its own)."""
        path = (
            f"/v1/videos/{urllib.parse.quote(video_id, safe='')}"
            f"/renditions/{urllib.parse.quote(rendition_id, safe='')}/download-links"
        )
        url = self.api.call("POST", path, {}, token=token)["url"]
        return urllib.parse.urljoin(self.api.base_url + "/", url)


def in_language(video: dict[str, Any], language: str) -> dict[str, Any]:
    """The video with its title and description ({en, fr} in the catalogue) as text in `language`,
    or in the other language when it has none in this one."""
    shown = dict(video)
    for name in ("title", "description"):
        texts = video.get(name)
        if isinstance(texts, dict):
            first, other = ("fr", "en") if language == "fr" else ("en", "fr")
            shown[name] = texts.get(first) or texts.get(other) or ""
    return shown
