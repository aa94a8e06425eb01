"""The catalogue's HTTP API, as the portal uses it (DESIGN §3)."""

import urllib.parse
from typing import Any

from portal.adapters.http import JsonApi

PER_PAGE = 12


class CatalogueClient:
    """Video list and search, video details, download links."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def videos(self, query: str, page: int) -> dict[str, Any]:
        """{items, total, page, per_page}."""
        return self.api.call("GET", "/v1/videos", query={"q": query, "page": page, "per_page": PER_PAGE})

    def video(self, video_id: str) -> dict[str, Any]:
        """Title, description, renditions, …"""
        return self.api.call("GET", f"/v1/videos/{urllib.parse.quote(video_id, safe='')}")

    def download_link(self, token: str, video_id: str, rendition_id: str) -> str:
        """A short-lived URL of the file (absolute; the catalogue may answer a path of its own)."""
        path = (
            f"/v1/videos/{urllib.parse.quote(video_id, safe='')}"
            f"/renditions/{urllib.parse.quote(rendition_id, safe='')}/download-links"
        )
        url = self.api.call("POST", path, {}, token=token)["url"]
        return urllib.parse.urljoin(self.api.base_url + "/", url)
