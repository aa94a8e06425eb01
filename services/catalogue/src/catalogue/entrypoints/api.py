"""The catalogue's HTTP endpoints: browse and search (public), download links (verified accounts),
the files behind the links, and ingest (operators)."""

import dataclasses
from typing import Any
from uuid import UUID

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from accounts_common.apidocs import BEARER_AUTH, NO_TOKEN, staff_problems
from accounts_common.auth import authenticate_request, current_principal, require_bearer
from accounts_common.authorization import check_role, require_role
from accounts_common.caching import public_for
from accounts_common.paging import envelope
from accounts_common.problems import Problem, document_problems
from accounts_common.roles import Role
from catalogue.bootstrap import Catalogue
from catalogue.domain.links import LinkClaims
from catalogue.domain.playback import preview_rendition
from catalogue.domain.videos import SearchQuery, Submission, Video, media_type
from catalogue.entrypoints import schemas
from catalogue.entrypoints.delivery import (
    IMAGE_RESPONSES,
    RANGE_PROBLEM,
    StoredFile,
    file_response,
    file_responses,
)
from catalogue.service_layer import catalogue as use_cases
from catalogue.service_layer import publishing, removal
from catalogue.service_layer.errors import NotFound

videos = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Browse, search and ingest")
downloads = Blueprint("downloads", __name__, url_prefix="/v1/downloads", description="Granted files")


def catalogue() -> Catalogue:
    """The Catalogue this app was built with."""
    return current_app.extensions["catalogue"]


EDITOR_PROBLEMS = {**staff_problems(Role.CATALOGUE_EDITOR), 422: "Invalid"}

# The one token a public read refuses; any other failure to authenticate sees published videos only.
INVALID_TOKEN = {401: "A bearer token was sent but is not valid (malformed, forged or expired)"}

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
    """A video as the API shows it, with the URLs of its images and preview."""
    shown = {**video.__dict__, "texts_version": video.texts_version, "deletable": video.deletable}
    for name, key, endpoint in (
        ("thumbnail", video.thumbnail_key, "videos.Thumbnail"),
        ("poster_url", video.poster_key, "videos.Poster"),
        ("preview_url", video.preview_key, "videos.Preview"),
    ):
        shown[name] = f"{public_url()}{url_for(endpoint, video_id=video.id)}" if key else None
    return shown


def sees_everything() -> bool:
    """Whether the request is a catalogue editor's (with the second factor), who sees unpublished
    videos too. Anybody else sees published videos only, whatever they send: no token, another scheme,
    an unverified or revoked account's token, any token while identity's keys cannot be fetched."""
    if "Authorization" not in request.headers:
        return False
    try:
        check_role(authenticate_request(verified=True), Role.CATALOGUE_EDITOR)
    except Problem as refused:
        if refused.slug == "invalid-token":
            # Malformed, forged or expired: a 401 makes its client renew it, where an editor would
            # otherwise take the published videos for all of them.
            raise
        return False
    return True


@videos.route("")
class Videos(MethodView):
    @public_for(LIST_MAX_AGE_S)
    @videos.arguments(schemas.VideoQuery, location="query", unknown=RAISE)
    @videos.response(200, schemas.VideoPage)
    @videos.doc(security=[{}, *BEARER_AUTH])
    @document_problems(videos, INVALID_TOKEN)
    def get(self, query: SearchQuery) -> dict[str, Any]:
        """Browse the newest videos, or search words in titles, descriptions, people, places and tags
        (in English and French). Published videos only, except for a catalogue editor's token."""
        if sees_everything():
            query = dataclasses.replace(query, everything=True)
        page = use_cases.search(catalogue(), query)
        return envelope([summary(video) for video in page.videos], page.total, query.page, query.per_page)

    @require_role(Role.CATALOGUE_EDITOR)  # outermost: refused before the body is even validated
    @videos.arguments(schemas.VideoSubmit)
    @videos.response(202, schemas.VideoAccepted)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos,
        EDITOR_PROBLEMS
        | {
            409: "The upload was used or terminated meanwhile",
            423: "A request is writing to the upload",
            503: "The bucket the upload is in cannot be reached",
            507: "insufficient-storage: no room to store the master (the upload stays whole)",
        },
    )
    def post(self, submission: Submission) -> dict[str, Any]:
        """Catalogue editors: make a video of a finished tus upload; it is transcoded, then ready to
        publish (follow `status` and `progress` on its detail). An upload already made into a video of
        theirs (a request sent again) answers that video."""
        video = publishing.submit(catalogue(), current_principal(), submission)
        return {"id": video.id, "status": video.status}


@videos.route("/imports")
class VideoImports(MethodView):
    @require_role(Role.CATALOGUE_EDITOR)
    @videos.arguments(schemas.VideoIngest)
    @videos.response(201, schemas.VideoDetail)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(videos, EDITOR_PROBLEMS)
    def post(self, new_video) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Catalogue editors: register and publish a video whose renditions are already encoded and in
        storage (the samples, an older archive); no transcoding."""
        return summary(use_cases.ingest(catalogue(), current_principal(), new_video))


@videos.route("/<uuid:video_id>")
class VideoDetail(MethodView):
    @public_for(LIST_MAX_AGE_S)
    @videos.response(200, schemas.VideoDetail)
    @videos.doc(security=[{}, *BEARER_AUTH])
    @document_problems(videos, INVALID_TOKEN | {404: "No such video"})
    def get(self, video_id: UUID) -> dict[str, Any]:
        """A video with its renditions (published only, except for a catalogue editor's token)."""
        return summary(use_cases.video(catalogue(), video_id, everything=sees_everything()))

    @require_role(Role.CATALOGUE_EDITOR)
    @videos.arguments(schemas.VideoEdit)
    @videos.response(200, schemas.VideoDetail)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos, EDITOR_PROBLEMS | {404: "No such video", 409: "texts-changed: saved since texts_version"}
    )
    def patch(self, changes: dict[str, Any], video_id: UUID) -> dict[str, Any]:
        """Catalogue editors: change a video's metadata (only the fields sent). A published video's
        changed title or description is a VideoTextsChanged event."""
        version = changes.pop("texts_version", None)
        return summary(publishing.edit(catalogue(), current_principal(), video_id, changes, version))

    @require_role(Role.CATALOGUE_EDITOR)
    @videos.response(204)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(videos, EDITOR_PROBLEMS | {404: "No such video", 409: "Published (or withdrawn)",
                                                  503: "The files cannot be reached"})  # fmt: skip
    def delete(self, video_id: UUID) -> None:
        """Catalogue editors: delete a video never published (failed, processing or ready) with its files;
        one published, or withdrawn since, stays."""
        removal.delete(catalogue(), current_principal(), video_id)


@videos.route("/<uuid:video_id>/transcoding")
class Transcoding(MethodView):
    @require_role(Role.CATALOGUE_EDITOR)
    @videos.response(202, schemas.VideoAccepted)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(videos, EDITOR_PROBLEMS | {404: "No such video", 409: "Not failed; master-gone",
                                                  503: "The files cannot be reached"})  # fmt: skip
    def post(self, video_id: UUID) -> dict[str, Any]:
        """Catalogue editors: transcode a failed video again, from its master as uploaded."""
        return {"id": video_id, "status": removal.retry(catalogue(), current_principal(), video_id).status}


@videos.route("/<uuid:video_id>/publication")
class Publication(MethodView):
    @require_role(Role.CATALOGUE_EDITOR)
    @videos.response(200, schemas.VideoDetail)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos, EDITOR_PROBLEMS | {404: "No such video", 409: "Not ready (processing or failed)"}
    )
    def post(self, video_id: UUID) -> dict[str, Any]:
        """Catalogue editors: publish a ready video (VideoPublished); a published one stays as it is."""
        return summary(publishing.publish(catalogue(), current_principal(), video_id))

    @require_role(Role.CATALOGUE_EDITOR)
    @videos.response(204)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(videos, EDITOR_PROBLEMS | {404: "No such video"})
    def delete(self, video_id: UUID) -> None:
        """Catalogue editors: withdraw a published video (VideoUnpublished); it goes back to ready."""
        publishing.withdraw(catalogue(), current_principal(), video_id)


def image_response(video_id: UUID, kind: str, media_type: str) -> Response:
    image = use_cases.thumbnail(catalogue(), video_id, kind, everything=sees_everything())
    return inline_file(image.key, image.size, media_type, image.sha256)


def inline_file(key: str, size: int, media_type: str, sha256: str) -> Response:
    """A video's image or preview for the page to show. Cached publicly for an hour only when no token
    was sent: such a request sees published videos only, where an editor's may be about an unpublished
    one, which no shared cache may keep."""
    anonymous = "Authorization" not in request.headers
    stored = StoredFile(
        key,
        size,
        media_type,
        "inline",
        etag=sha256,
        cache_control="public, max-age=3600" if anonymous else "private, max-age=0",
        sha256=sha256,
    )
    response = file_response(
        stored, lambda: use_cases.open_file(catalogue(), key), x_accel_prefix=x_accel_prefix()
    )
    response.vary.add("Authorization")
    return response


@videos.route("/<uuid:video_id>/thumbnail")
class Thumbnail(MethodView):
    @videos.doc(responses=IMAGE_RESPONSES)
    @document_problems(
        videos,
        INVALID_TOKEN
        | RANGE_PROBLEM
        | {404: "No such video or no thumbnail", 503: "The file is not available"},
    )
    def get(self, video_id: UUID) -> Response:
        """The video's thumbnail image."""
        return image_response(video_id, "thumbnail", "image/jpeg")


@videos.route("/<uuid:video_id>/poster")
class Poster(MethodView):
    @videos.doc(responses=IMAGE_RESPONSES)
    @document_problems(
        videos,
        INVALID_TOKEN | RANGE_PROBLEM | {404: "No such video or no poster", 503: "The file is not available"},
    )
    def get(self, video_id: UUID) -> Response:
        """The video's poster: a full-size still for the player."""
        return image_response(video_id, "poster", "image/jpeg")


@videos.route("/<uuid:video_id>/preview")
class Preview(MethodView):
    @videos.doc(responses=file_responses("The preview, or the smallest rendition a browser plays"))
    @document_problems(
        videos,
        INVALID_TOKEN
        | {
            **RANGE_PROBLEM,
            404: "No such video, or none of its files plays in a browser",
            503: "The file is not available",
        },
    )
    def get(self, video_id: UUID) -> Response:
        """What the video page plays, for anyone (GET or HEAD; Range, If-Range, If-None-Match): the
        transcoder's 10-second preview, else the preview or smallest MP4/WebM rendition of a video
        registered with its files. Downloads need a verified account."""
        video = use_cases.video(catalogue(), video_id, everything=sees_everything())
        if video.preview_key is not None:
            return image_response(video_id, "preview", "video/mp4")
        rendition = preview_rendition(video)
        if rendition is None:
            raise NotFound("None of this video's files plays in a browser.")
        return inline_file(
            rendition.storage_key, rendition.size_bytes, media_type(rendition.container), rendition.checksum
        )


@videos.route("/<uuid:video_id>/renditions/<uuid:rendition_id>/download-links")
class DownloadLinks(MethodView):
    @videos.response(201, schemas.DownloadLinkView)
    @videos.doc(security=BEARER_AUTH)
    @document_problems(
        videos,
        {
            401: NO_TOKEN,
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
