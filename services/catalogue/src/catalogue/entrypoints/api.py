"""The catalogue's HTTP endpoints: browse and search (public), download links (verified accounts),
the files behind the links, and ingest (operators)."""

from typing import Any
from uuid import UUID

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from accounts_common.auth import current_principal, require_bearer
from accounts_common.authorization import require_role
from accounts_common.caching import public_for
from accounts_common.problems import document_problems
from accounts_common.roles import Role
from catalogue.bootstrap import Catalogue
from catalogue.domain.links import LinkClaims
from catalogue.domain.playback import preview_rendition
from catalogue.domain.videos import SearchQuery, Video, media_type
from catalogue.entrypoints import schemas
from catalogue.entrypoints.delivery import StoredFile, file_response
from catalogue.service_layer import catalogue as use_cases
from catalogue.service_layer.errors import NotFound

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
FILE_TYPES = ("video/mp4", "application/mxf", "video/quicktime", "video/webm", "application/octet-stream")
FILE_HEADERS = {
    name: {"schema": {"type": "string"}}
    for name in ("Accept-Ranges", "Content-Disposition", "ETag", "Content-Length", "Repr-Digest")
}

videos = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Browse, search and ingest")
downloads = Blueprint("downloads", __name__, url_prefix="/v1/downloads", description="Granted files")


def catalogue() -> Catalogue:
    """The Catalogue this app was built with."""
    return current_app.extensions["catalogue"]


# The public list changes when a video is ingested: a minute's delay is fine for visitors, and lets a
# browser, nginx or a CDN absorb a burst of identical searches (the front page) without a query each.
LIST_MAX_AGE_S = 60


def public_url() -> str:
    """Where clients reach this service: CATALOGUE_PUBLIC_URL (never the request's Host header)."""
    return catalogue().settings.public_url


def x_accel_prefix() -> str:
    """nginx's internal location for local files; none with an object store, whose bytes stream here."""
    settings = catalogue().settings
    return "" if settings.storage else settings.x_accel_redirect_prefix


def summary(video: Video) -> dict[str, Any]:
    """A video as the API shows it, with its thumbnail's URL."""
    shown = dict(video.__dict__)
    thumbnail = url_for("videos.Thumbnail", video_id=video.id)
    shown["thumbnail"] = f"{public_url()}{thumbnail}" if video.thumbnail_key else None
    return shown


@videos.route("")
class Videos(MethodView):
    @public_for(LIST_MAX_AGE_S)
    @videos.arguments(schemas.VideoQuery, location="query", unknown=RAISE)
    @videos.response(200, schemas.VideoPage)
    def get(self, query: SearchQuery) -> dict[str, Any]:
        """Browse the newest videos, or search words in titles, descriptions, people, places and tags."""
        page = use_cases.search(catalogue(), query)
        return {
            "items": [summary(video) for video in page.videos],
            "total": page.total,
            "page": query.page,
            "per_page": query.per_page,
        }

    @require_role(Role.CATALOGUE_EDITOR)  # outermost: refused before the body is even validated
    @videos.arguments(schemas.VideoIngest)
    @videos.response(201, schemas.VideoDetail)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos,
        {
            401: "No valid access token",
            403: "role-required: not a catalogue editor; second-factor-required: logged in without TOTP",
            422: "Invalid",
        },
    )
    def post(self, new_video) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Catalogue editors: register a video whose files are already in storage."""
        return summary(use_cases.ingest(catalogue(), new_video))


@videos.route("/<uuid:video_id>")
class VideoDetail(MethodView):
    @public_for(LIST_MAX_AGE_S)
    @videos.response(200, schemas.VideoDetail)
    @document_problems(videos, {404: "No such video"})
    def get(self, video_id: UUID) -> dict[str, Any]:
        """A video with its renditions."""
        return summary(use_cases.video(catalogue(), video_id))


@videos.route("/<uuid:video_id>/thumbnail")
class Thumbnail(MethodView):
    @videos.doc(responses={"200": {"description": "The image", "content": {"image/jpeg": {}}}})
    @document_problems(videos, {404: "No such video or no thumbnail", 503: "The file is not available"})
    def get(self, video_id: UUID) -> Response:
        """The video's thumbnail image."""
        key, size = use_cases.thumbnail(catalogue(), video_id)
        stored = StoredFile(key, size, "image/jpeg", "inline", cache_control="public, max-age=3600")
        return file_response(stored, lambda: use_cases.open_file(catalogue(), key))


def file_responses(description: str) -> dict[str, Any]:
    """OpenAPI: a whole file (200) or one byte range of it (206)."""
    content = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in FILE_TYPES}
    return {
        "200": {"description": f"{description}: the whole file", "content": content, "headers": FILE_HEADERS},
        "206": {
            "description": f"{description}: one byte range",
            "content": content,
            "headers": {**FILE_HEADERS, "Content-Range": {"schema": {"type": "string"}}},
        },
        "304": {"description": "Not modified (If-None-Match)"},
    }


@videos.route("/<uuid:video_id>/preview")
class Preview(MethodView):
    @videos.doc(responses=file_responses("The preview, or the smallest rendition a browser plays"))
    @document_problems(
        videos,
        {
            404: "No such video, or none of its files plays in a browser",
            416: "Malformed, multiple or unsatisfiable range",
            503: "The file is not available",
        },
    )
    def get(self, video_id: UUID) -> Response:
        """What the video page plays, for anyone (GET or HEAD; Range, If-Range, If-None-Match): the
        preview, else the smallest MP4/WebM rendition. Downloads of the others need a verified account."""
        rendition = preview_rendition(use_cases.video(catalogue(), video_id))
        if rendition is None:
            raise NotFound("None of this video's files plays in a browser.")
        stored = StoredFile(
            key=rendition.storage_key,
            size=rendition.size_bytes,
            media_type=media_type(rendition.container),
            disposition="inline",
            etag=rendition.checksum,
            cache_control="public, max-age=3600",
            sha256=rendition.checksum,
        )
        return file_response(
            stored,
            lambda: use_cases.open_file(catalogue(), rendition.storage_key),
            x_accel_prefix=x_accel_prefix(),
        )


@videos.route("/<uuid:video_id>/renditions/<uuid:rendition_id>/download-links")
class DownloadLinks(MethodView):
    @videos.response(201, schemas.DownloadLinkView)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos,
        {
            401: "No valid access token",
            403: "Unverified, revoked or deleted account",
            404: "No such video or rendition",
            503: "Tokens cannot be checked right now",
        },
    )
    @require_bearer(verified=True)
    def post(self, video_id: UUID, rendition_id: UUID) -> dict[str, Any]:
        """A signed link to download one rendition, valid for a few minutes (verified accounts)."""
        link = use_cases.grant_download(
            catalogue(), current_principal(), video_id, rendition_id, public_url()
        )
        return {"url": link.url, "expires_at": link.expires_at}


@downloads.route("/<uuid:grant_id>")
class DownloadFile(MethodView):
    @downloads.arguments(schemas.DownloadArgs, location="query", unknown=RAISE)
    @downloads.doc(responses=file_responses("The granted file"))
    @document_problems(
        downloads,
        {
            403: "The link was altered or is not valid",
            410: "The link has expired",
            416: "Malformed, multiple or unsatisfiable range",
            503: "The file is not available",
        },
    )
    def get(self, args: dict[str, Any], grant_id: UUID) -> Response:
        """The file a download link grants (GET or HEAD; Range, If-Range, If-None-Match)."""
        claims = LinkClaims(grant_id, args["rendition"], args["expires"])
        download = use_cases.open_download(catalogue(), claims, args["signature"])
        rendition = download.rendition
        stored = StoredFile(
            key=rendition.storage_key,
            size=rendition.size_bytes,
            media_type=media_type(rendition.container),
            disposition=f'attachment; filename="{download.filename}"',
            etag=rendition.checksum,
            sha256=rendition.checksum,
        )
        response = file_response(
            stored,
            lambda: use_cases.open_file(catalogue(), rendition.storage_key),
            x_accel_prefix=x_accel_prefix(),
        )
        if request.method == "GET" and response.status_code in (200, 206):
            use_cases.record_download(catalogue(), grant_id)
        return response
