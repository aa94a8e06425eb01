"""The catalogue's HTTP API, as the portal uses it (DESIGN §3)."""

import urllib.parse
from typing import Any

from portal.adapters.http import JsonApi

PER_PAGE = 12
EDITOR_PER_PAGE = 50  # the console's list, a page


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
    or in the other language when it has none in this one; `languages` says which language each
    text shown is in (a page marks a text in the other language with its own)."""
    shown, languages = dict(video), {}
    preferred = ("fr", "en") if language == "fr" else ("en", "fr")
    for name in ("title", "description"):
        texts = video.get(name)
        if isinstance(texts, dict):
            written = [code for code in preferred if texts.get(code)]
            shown[name] = texts[written[0]] if written else ""
            languages[name] = written[0] if written else language
    shown["languages"] = languages
    return shown


class EditorClient:
    """The catalogue's editing endpoints, with the catalogue editor's own token (the catalogue checks the
    role and audits each change)."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def videos(self, token: str, page: int = 1) -> dict[str, Any]:
        """A page of the videos of every status (unpublished ones first, then the newest), {en, fr}
        texts as stored: {items, total, page, per_page}."""
        query = {"page": page, "per_page": EDITOR_PER_PAGE}
        return dict(self.api.call("GET", "/v1/videos", token=token, query=query))

    def video(self, token: str, video_id: str) -> dict[str, Any]:
        return self.api.call("GET", _video_path(video_id), token=token)

    def create(self, token: str, upload_id: str, texts: dict[str, dict[str, str]]) -> dict[str, Any]:
        """A video of a finished upload: {id, status: processing}."""
        body = {"upload_url": f"{self.api.base_url}/v1/uploads/{upload_id}", **texts}
        return self.api.call("POST", "/v1/videos", body, token=token)

    def edit(
        self, token: str, video_id: str, texts: dict[str, dict[str, str]], texts_version: str | None = None
    ) -> dict[str, Any]:
        """Save the texts; with `texts_version` (the video's when they were typed), 409 texts-changed
        instead when they were saved again since."""
        version = {"texts_version": texts_version} if texts_version else {}
        return self.api.call("PATCH", _video_path(video_id), {**texts, **version}, token=token)

    def publish(self, token: str, video_id: str) -> None:
        self.api.call("POST", f"{_video_path(video_id)}/publication", {}, token=token)

    def withdraw(self, token: str, video_id: str) -> None:
        self.api.call("DELETE", f"{_video_path(video_id)}/publication", token=token)

    def retry(self, token: str, video_id: str) -> None:
        """Transcode a failed video again; 409 master-gone when its uploaded file is no longer kept."""
        self.api.call("POST", f"{_video_path(video_id)}/transcoding", {}, token=token)

    def delete(self, token: str, video_id: str) -> None:
        """Delete a video never published, with its files; 409 for one published (withdrawn since too)."""
        self.api.call("DELETE", _video_path(video_id), token=token)


def _video_path(video_id: str) -> str:
    return f"/v1/videos/{urllib.parse.quote(video_id, safe='')}"
