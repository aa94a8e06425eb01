"""Video list with search, a video's page with its preview and renditions, and the Download button."""

import urllib.parse
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request
from flask_babel import get_locale
from werkzeug.wrappers import Response

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints.web import access_token, current_path, portal, remember_return_to, see_other

blp = Blueprint("videos", __name__)


@blp.get("/")
def index() -> str | tuple[str, int]:
    query = request.args.get("q", "").strip()[:200]
    page = request.args.get("page", 1, type=int) or 1
    remember_return_to(current_path())
    try:
        result = portal().catalogue.videos(query, max(page, 1), str(get_locale()))
    except ServiceUnavailable:
        return render_template("videos/index.html", query=query, result=None, unavailable=True)
    except ApiError as error:  # a page past the catalogue's last one (10,000), or words it refuses
        no_such_page = "page" in error.errors
        return render_template(
            "videos/index.html", query=query, result=None, unavailable=False, no_such_page=no_such_page
        ), 404 if no_such_page else 400
    return render_template("videos/index.html", query=query, result=result, unavailable=False)


@blp.get("/videos/<video_id>")
def video(video_id: str) -> str:
    remember_return_to(current_path())
    try:
        found = portal().catalogue.video(video_id, str(get_locale()))
    except ApiError as error:
        abort(404 if error.status in (400, 404) else 400)
    except ServiceUnavailable:
        return render_template("videos/video.html", video=None, unavailable=True)
    return render_template(
        "videos/video.html", video=found, unavailable=False, player=player(found), player_poster=poster(found)
    )


# What a browser's <video> plays (the catalogue's preview endpoint serves only these).
PLAYABLE = ("mp4", "webm")


@dataclass(frozen=True)
class Player:
    source: str
    poster: str | None


def poster(video: dict[str, Any]) -> str | None:
    return video.get("poster_url") or video.get("thumbnail")


def player(video: dict[str, Any]) -> Player | None:
    """The in-page preview: the catalogue's `preview_url` (DESIGN §9), or, from a catalogue without it,
    its preview endpoint next to the thumbnail's; None when no rendition plays in a browser."""
    if video.get("preview_url"):
        return Player(video["preview_url"], poster(video))
    thumbnail = video.get("thumbnail")
    playable = any(rendition.get("container") in PLAYABLE for rendition in video.get("renditions", []))
    if not playable or not thumbnail:
        return None
    # …/v1/videos/<id>/thumbnail → …/v1/videos/<id>/preview, on the catalogue's public address.
    return Player(urllib.parse.urljoin(thumbnail, "preview"), thumbnail)


@blp.post("/videos/<video_id>/renditions/<rendition_id>/download")
def download(video_id: str, rendition_id: str) -> Response:
    """Signed in: off to the file's short-lived link. Otherwise: log in or create an account first."""
    token = access_token()
    if token is None:
        return see_other("sessions.login", reason="download")
    try:
        url = portal().catalogue.download_link(token, video_id, rendition_id)
    except ApiError as error:
        if error.session_ended:
            raise
        abort(403 if error.status == 403 else 404)
    return redirect(url, code=303)
