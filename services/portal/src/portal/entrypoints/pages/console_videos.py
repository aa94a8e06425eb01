"""The console's Videos page (DESIGN §8, §9), for catalogue editors: the videos of every status with
their transcoding progress, a new video from an upload, its texts in English and French, publish and
withdraw. Every change is a server-rendered form; only the upload's progress needs the page's script.

The upload goes through the portal (tus at /console/videos/uploads/, passed on to the catalogue's):
the editor's token stays in the session, the page's script never sees it, the catalogue needs no CORS
and the page's Content-Security-Policy stays `connect-src 'self'`. The script sends 8 MiB chunks, each
a whole request that nginx buffers before a portal worker takes it, so a slow line holds no worker."""

import re
from typing import Any
from uuid import UUID

from flask import Blueprint, abort, current_app, flash, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from accounts_common.roles import Role
from portal.adapters.http import ApiError, ServiceUnavailable
from portal.adapters.uploads import DISK_FULL, REQUEST_HEADERS
from portal.entrypoints.pages.console import render_console, staff_page, token
from portal.entrypoints.problems import FORM, field_errors
from portal.entrypoints.web import for_scripts, portal, see_other

blp = Blueprint("console_videos", __name__, url_prefix="/console/videos")
LANGUAGES = ("en", "fr")
# A tus chunk of the page's script (8 MiB) with room to spare (the texts' forms: web.LONG_FORM_BYTES).
MAX_CHUNK_BYTES = 16 * 1024 * 1024
BODY_HEADERS = ("Content-Type", "Content-Length")
CHUNK_TYPE = "application/offset+octet-stream"  # tus's PATCH body
UPLOAD_ID = re.compile(r"([0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12})/?$")


@blp.get("")
@staff_page(Role.CATALOGUE_EDITOR)
def videos() -> tuple[str, int]:
    return render_videos({}, {})


def render_videos(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200) -> tuple[str, int]:
    """The new video's form and the page of the list the address asks for (404 past the last)."""
    page, unavailable = max(request.args.get("page", 1, int), 1), False
    try:
        listed: dict[str, Any] | None = portal().editor.videos(token(), page)
    except ServiceUnavailable:  # the form still shows, with what was typed in it
        listed, unavailable, status = None, True, 503
    except ApiError as error:  # a page past the catalogue's last one (10,000)
        if "page" not in error.errors:
            raise
        listed = None
    if not unavailable and (listed is None or (not listed["items"] and listed["total"])):
        listed, status = None, 404
    return render_console(
        "videos.html",
        listed=listed,
        unavailable=unavailable,
        values=values,
        errors=errors,
        video_languages=LANGUAGES,
        chunk_bytes=MAX_CHUNK_BYTES // 2,
    ), status


def posted_texts() -> dict[str, dict[str, str]]:
    """The form's title and description, {en, fr} each."""
    return {
        part: {language: request.form.get(f"{part}_{language}", "").strip() for language in LANGUAGES}
        for part in ("title", "description")
    }


def upload_id_of(value: str) -> str | None:
    """The upload's id in what the form holds: the page's upload address, the catalogue's, or the id."""
    found = UPLOAD_ID.search(value.strip().split("?", 1)[0])
    return str(UUID(found.group(1))) if found else None


@blp.post("")
@staff_page(Role.CATALOGUE_EDITOR)
def create() -> Response | tuple[str, int]:
    texts, upload = posted_texts(), request.form.get("upload", "").strip()
    values = {"upload": upload, **texts}
    upload_id = upload_id_of(upload)
    if upload_id is None:
        return render_videos(values, {"upload": [gettext("Upload the video's file first.")]}, 400)
    if untitled := title_missing(texts):
        return render_videos(values, untitled, 400)
    try:
        created = portal().editor.create(token(), upload_id, texts)
    except ServiceUnavailable as error:
        if error.status == DISK_FULL:  # no room to keep the upload as the video's master; it stays whole
            no_room = gettext("The catalogue has no room left on its disk to keep this video. Your upload is "
                              "kept: create the video again once room is made.")  # fmt: skip
            return render_videos(values, {FORM: [no_room]}, DISK_FULL)
        return render_videos(values, {FORM: [catalogue_unavailable()]}, 503)
    except ApiError as error:
        if error.status not in (409, 422, 423):
            raise
        return render_videos(values, video_errors(error), 400 if error.status == 422 else 409)
    flash(gettext("The video is being transcoded: it can be published once it is ready."))
    return see_other("console_videos.video", video_id=created["id"])


def title_missing(texts: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """The form's error when it has a title in neither language (the catalogue refuses it), else none."""
    if texts["title"]["en"] or texts["title"]["fr"]:
        return {}
    return {"title_en": [gettext("Give the video a title.")]}


def video_errors(error: ApiError) -> dict[str, list[str]]:
    """The catalogue's refusal as the form's field errors, in the page's language."""
    if error.status == 423:  # its last chunk is still on its way (from another tab, a tus client)
        message = gettext("The file is still being uploaded: wait until it is done, then try again.")
        return {"upload": [message]}
    if error.status == 409 or "upload_url" in error.errors:
        return {
            "upload": [gettext("This upload is not finished, or was already used: upload the file again.")]
        }
    fields = {f"{part}.{language}": f"{part}_{language}" for part in ("title", "description")
              for language in LANGUAGES}  # fmt: skip
    return field_errors(error, fields)


@blp.get("/<uuid:video_id>")
@staff_page(Role.CATALOGUE_EDITOR)
def video(video_id: UUID) -> tuple[str, int]:
    """The video's page; `?as=saved`, opened beside an editor's refused save to compare, shows its texts
    as saved, keeping no draft in the browser (that editor's text kept would be put back over them)."""
    return render_video(str(video_id), None, {}, as_saved=request.args.get("as") == "saved")


def render_video(
    video_id: str, texts: dict[str, Any] | None, errors: dict[str, list[str]], status: int = 200,
    *, read: str | None = None, saved_since: bool = False, as_saved: bool = False, confirming: bool = False,
) -> tuple[str, int]:  # fmt: skip
    """The video's page; `read`: the texts_version the form's texts were typed over, when not the
    video's now; `saved_since` links the video as saved, for an editor whose save came second;
    `confirming` asks to confirm the video's deletion."""
    found = video_or_404(video_id)
    return render_console(
        "video.html", video=found, texts=texts or found, errors=errors, video_languages=LANGUAGES,
        read=read, saved_since=saved_since, as_saved=as_saved, confirming=confirming,
    ), status  # fmt: skip


def video_or_404(video_id: str) -> dict[str, Any]:
    try:
        return portal().editor.video(token(), video_id)
    except ApiError as error:
        if error.status != 404:
            raise
        abort(404)


@blp.post("/<uuid:video_id>")
@staff_page(Role.CATALOGUE_EDITOR)
def edit(video_id: UUID) -> Response | tuple[str, int]:
    """Save the texts, all four, over the copy the form was typed over: one saved since (by another
    editor, in another tab) is not overwritten unseen; the texts typed stay, now over that copy."""
    texts, read = posted_texts(), request.form.get("texts_version", "")
    if untitled := title_missing(texts):  # said next to the title, as for a new video
        return render_video(str(video_id), texts, untitled, 400, read=read)
    try:
        portal().editor.edit(token(), str(video_id), texts, texts_version=read or None)
    except ServiceUnavailable:  # the texts stay on their page, to save again in a moment
        unknown, errors = {"id": str(video_id), "title": texts["title"]}, {FORM: [catalogue_unavailable()]}
        return render_console("video.html", video=unknown, texts=texts, errors=errors, read=read,
                              video_languages=LANGUAGES, state_unknown=True), 503  # fmt: skip
    except ApiError as error:
        if error.status == 404:
            abort(404)
        if error.slug == "texts-changed":  # the form's texts stay, now over the copy saved since
            message = {FORM: [saved_since_message()]}
            return render_video(str(video_id), texts, message, 409, saved_since=True)
        if error.status != 422:
            raise
        return render_video(str(video_id), texts, video_errors(error), 400, read=read)
    flash(gettext("The video's texts are saved."))
    return see_other("console_videos.video", video_id=video_id)


def saved_since_message() -> str:
    return gettext(
        "This video was saved again after you opened it (by someone else, or in another tab). Your texts "
        "below are not saved yet: compare them with the video as saved, then save again to replace its texts."
    )


def catalogue_unavailable() -> str:
    return gettext("The video catalogue is unavailable. Please try again in a few minutes.")


def texts_too_long() -> dict[str, list[str]]:
    message = gettext(
        "The texts are too long to be saved. Go back with your browser to find them, and shorten them."
    )
    return {FORM: [message]}


@staff_page(Role.CATALOGUE_EDITOR)
def too_long_new_video() -> tuple[str, int]:
    """The answer to a new video's form too long to be read."""
    return render_videos({}, texts_too_long(), 413)


@staff_page(Role.CATALOGUE_EDITOR)
def too_long_video_texts(video_id: UUID) -> tuple[str, int]:
    """The answer to a video's texts too long to be read: the video as last saved, and why."""
    return render_video(str(video_id), None, texts_too_long(), 413)


@blp.post("/<uuid:video_id>/<any(publication, withdrawal):change>")
@staff_page(Role.CATALOGUE_EDITOR)
def publication(video_id: UUID, change: str) -> Response | tuple[str, int]:
    editor = portal().editor
    try:
        if change == "publication":
            editor.publish(token(), str(video_id))
        else:
            editor.withdraw(token(), str(video_id))
    except ApiError as error:
        if error.status == 404:
            abort(404)
        if error.status != 409:
            raise
        message = gettext("Only a video that is ready can be published: wait until it is transcoded.")
        return render_video(str(video_id), None, {"_form": [message]}, 409)
    flash(gettext("The video is published.") if change == "publication" else
          gettext("The video is withdrawn: visitors no longer see it."))  # fmt: skip
    return see_other("console_videos.video", video_id=video_id)


@blp.post("/<uuid:video_id>/<any(transcoding, deletion):change>")
@staff_page(Role.CATALOGUE_EDITOR)
def removal(video_id: UUID, change: str) -> Response | tuple[str, int]:
    """Transcode a failed video again ("Try again"), or delete a video never published, once confirmed."""
    if change == "deletion" and request.form.get("confirmed") != "yes":  # its files go for good: ask first
        return render_video(str(video_id), None, {}, confirming=True)
    try:
        if change == "transcoding":
            portal().editor.retry(token(), str(video_id))
        else:
            portal().editor.delete(token(), str(video_id))
    except ApiError as error:
        if error.status == 404:
            abort(404)
        if error.status != 409:
            raise
        return render_video(str(video_id), None, {FORM: [removal_refused(change, error.slug)]}, 409)
    if change == "deletion":
        flash(gettext("The video is deleted, with its files."))
        return see_other("console_videos.videos")
    flash(gettext("The video is being transcoded again."))
    return see_other("console_videos.video", video_id=video_id)


def removal_refused(change: str, slug: str) -> str:
    if change == "deletion":
        return gettext(
            "A video that was published stays in the catalogue: withdraw it to take it from the public."
        )
    if slug == "master-gone":
        return gettext(
            "The video's uploaded file is no longer kept: delete this video, and upload the file again."
        )
    return gettext("Only a video whose transcoding failed can be tried again.")


# --- tus, passed on to the catalogue -------------------------------------------------------------


@blp.post("/uploads/")
@for_scripts
@staff_page(Role.CATALOGUE_EDITOR)
def new_upload() -> Response:
    """tus creation: the catalogue's Location becomes this page's own address of the upload."""
    check_csrf_header()
    answer = portal().uploads.forward("POST", "", token(), tus_headers(with_body=False))
    headers = dict(answer.headers)
    upload_id = upload_id_of(headers.pop("Location", ""))
    if answer.status == 201 and upload_id:
        headers["Location"] = f"{request.script_root}/console/videos/uploads/{upload_id}"
    return tus_response(answer.status, headers, answer.body)


@blp.route("/uploads/<uuid:upload_id>", methods=["HEAD", "PATCH", "DELETE"])
@for_scripts
@staff_page(Role.CATALOGUE_EDITOR)
def upload(upload_id: UUID) -> Response:
    """tus core and termination: the offset, a chunk of bytes, the end of an upload."""
    body = None
    if request.method != "HEAD":
        check_csrf_header()
    if request.method == "PATCH":
        if request.mimetype != CHUNK_TYPE:  # as the catalogue says; and a JSON body was read already
            abort(415)
        if (request.content_length or 0) > MAX_CHUNK_BYTES:
            abort(413)
        request.max_content_length = MAX_CHUNK_BYTES
        body = request.stream
    headers = tus_headers(with_body=body is not None)
    answer = portal().uploads.forward(request.method, str(upload_id), token(), headers, body)
    return tus_response(answer.status, answer.headers, answer.body)


def tus_headers(*, with_body: bool) -> dict[str, str]:
    """The request's tus headers, to pass on as they are; those of its body only with the body (a
    catalogue told of bytes that never come waits for them)."""
    names = [name for name in REQUEST_HEADERS if with_body or name not in BODY_HEADERS]
    return {name: request.headers[name] for name in names if name in request.headers}


def check_csrf_header() -> None:
    """The page's script sends the form's CSRF token as X-CSRFToken (these views are exempt from the
    app's form check, which would read a chunk as a form before its size is allowed)."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None


def tus_response(status: int, headers: dict[str, str], body: bytes) -> Response:
    response = current_app.response_class(body, status=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
