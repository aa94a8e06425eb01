"""Editors' use cases for videos: submit an upload for transcoding, edit, publish, withdraw. Each is
audited (OperatorActionRecorded) and publishing or withdrawing is a VideoPublished / VideoUnpublished
event, a published video's new texts a VideoTextsChanged, all through the catalogue's outbox in the
transaction of the change itself, each numbered after the video's events before it (video_revision)."""

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from accounts_common import outbox
from accounts_common.audit import record_action
from accounts_common.auth import Principal
from accounts_common.events import new_event
from accounts_common.events.topics import VIDEO_EVENTS
from catalogue.adapters import job_store, upload_store, video_store
from catalogue.adapters.upload_area import UploadBusy
from catalogue.adapters.upload_store import Upload
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Status, Submission, Video
from catalogue.service_layer import uploads
from catalogue.service_layer.errors import Conflict, InvalidIngest, Locked, NotFound, TextsChanged

log = logging.getLogger(__name__)

SOURCE = "/catalogue"
UPLOAD_GONE = "This upload was used or terminated meanwhile."
UPLOAD_PATH = re.compile(r"/v1/uploads/([0-9a-fA-F-]{36})/?$")


def upload_id_of(url: str) -> UUID | None:
    """The upload's id in a tus upload URL (its Location), or None when it is not one."""
    found = UPLOAD_PATH.search(url.split("?", 1)[0])
    try:
        return UUID(found.group(1)) if found else None
    except ValueError:
        return None


def master_key(video_id: UUID) -> str:
    return f"videos/{video_id}/master"


def submit(catalogue: Catalogue, principal: Principal, submission: Submission) -> Video:
    """Make a video of a finished upload: its bytes become the master, a transcoding job is queued.
    The upload's row and then its writers are locked first; a video that cannot be recorded undoes the
    master, and the upload stays as it was, to submit again. An upload the editor made into a video
    already (a form sent twice, or again after a timeout) answers that video, as the first submission
    did: also when the two arrive together (a double click), the one refused waits for the other."""
    try:
        return _submit(catalogue, principal, submission)
    except (Locked, Conflict, InvalidIngest):
        made = _made_meanwhile(catalogue, principal, submission.upload_id)
        if made is None:
            raise
        return made


def _submit(catalogue: Catalogue, principal: Principal, submission: Submission) -> Video:
    upload = _own_upload(catalogue, principal, submission.upload_id)
    if upload.video_id is not None:
        with catalogue.pool.connection() as conn:
            made = video_store.find_video(conn, upload.video_id)
        if made is None:  # deleted since it was read (removal.delete), and its upload with it
            raise InvalidIngest("No such upload.", {"upload_url": ["No upload of yours is at this URL."]})
        return made
    try:
        video = _make_video(catalogue, principal, submission, upload)
    except UploadBusy:
        raise Locked("A request is writing to this upload; try again when it ends.") from None
    except FileNotFoundError:  # terminated or expired since it was found
        raise Conflict(UPLOAD_GONE) from None
    catalogue.uploads.delete_source(upload.id)
    return video


def _made_meanwhile(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> Video | None:
    """The video another submission of the caller's upload made, read once that submission ended: it
    holds the upload's row while it holds the writers' lock (_make_video); None when there is none."""
    with catalogue.pool.connection() as conn, conn.transaction():
        upload = upload_store.find_upload(conn, upload_id, for_update=True)
        if upload is None or upload.account_id != principal.account_id or upload.video_id is None:
            return None
        return video_store.find_video(conn, upload.video_id)


def _own_upload(catalogue: Catalogue, principal: Principal, upload_id: UUID) -> Upload:
    """The caller's upload, unexpired, or made into a video already; InvalidIngest otherwise."""
    with catalogue.pool.connection() as conn:
        upload = upload_store.find_upload(conn, upload_id)
    if upload is not None and upload.account_id == principal.account_id and upload.video_id is not None:
        return upload
    if (
        upload is None
        or upload.account_id != principal.account_id
        or uploads.expires_at(catalogue, upload) <= datetime.now(UTC)
    ):
        raise InvalidIngest("No such upload.", {"upload_url": ["No upload of yours is at this URL."]})
    return upload


def _check_whole(catalogue: Catalogue, upload: Upload) -> None:
    """InvalidIngest unless every byte of the upload has arrived (asked under the writers' lock, as a
    write asks: S3Proxy fails a listing of the parts while one is on its way, a 503 for a 423)."""
    try:
        received = catalogue.uploads.offset(upload)
    except FileNotFoundError:
        received = -1
    if received != upload.length:
        raise InvalidIngest(
            "The upload is not finished.", {"upload_url": [f"{received} of {upload.length} bytes received."]}
        )


def _make_video(catalogue: Catalogue, principal: Principal, submission: Submission, upload: Upload) -> Video:
    video_id = uuid.uuid4()
    stored = None
    try:
        with catalogue.pool.connection() as conn, conn.transaction():
            # Locked before the master is stored: termination and expiry wait, then see the video; and
            # before the writers' lock, so a submission that finds that taken can wait for this one.
            if upload_store.find_upload(conn, upload.id, for_update=True) != upload:
                raise Conflict(UPLOAD_GONE)
            with catalogue.uploads.locked(upload):
                _check_whole(catalogue, upload)
                try:
                    # A folder's upload is linked (or copied) to master_key; a bucket's is the master.
                    stored = catalogue.uploads.store_master(upload, catalogue.storage, master_key(video_id))
                except FileNotFoundError:
                    raise Conflict(UPLOAD_GONE) from None
                video = submission.processing(video_id, stored)
                video_store.insert_video(conn, video)
                job_store.insert_job(conn, video.id)
                upload_store.attach_upload(conn, upload.id, video.id)
                audit_video_action(conn, catalogue, principal, "video.created", video.id)
    except BaseException:
        if stored is not None:
            _undo_master(catalogue, stored)
        raise
    return video


def _undo_master(catalogue: Catalogue, stored: str) -> None:
    try:
        catalogue.uploads.undo_master(catalogue.storage, stored)
    except Exception:  # the submission's own failure is the one to report
        log.exception("could not remove %s, the master of a video that was not recorded", stored)


def edit(
    catalogue: Catalogue,
    principal: Principal,
    video_id: UUID,
    changes: dict[str, Any],
    texts_version: str | None = None,
) -> Video:
    """Change a video's metadata (dates, people, place, tags; of a title or description, the languages
    in `changes` alone): it keeps a title in one language at least. With `texts_version`, only over
    the texts of that version (Video.texts_version): TextsChanged when they were saved again since.
    Texts that really change count a revision; a published video's are then a VideoTextsChanged."""
    with catalogue.pool.connection() as conn, conn.transaction():
        video = video_store.lock_video(conn, video_id)
        if video is None:
            raise NotFound("There is no such video.")
        if texts_version is not None and texts_version != video.texts_version:
            raise TextsChanged(
                "The video's texts were saved again since these were typed over them: read them again."
            )
        if video.status is Status.PUBLISHED and "published_at" in changes and changes["published_at"] is None:
            raise InvalidIngest(
                "A published video keeps a date.", {"published_at": ["Required once published."]}
            )
        title, description = video.edited_texts(changes)
        if not (title.en.strip() or title.fr.strip()):
            raise InvalidIngest(
                "A video keeps a title.", {"title": ["A title in English, in French or both."]}
            )
        texts_changed = video.texts_differ(title, description)
        video_store.update_metadata(conn, video_id, changes, texts_changed=texts_changed)
        edited = video_as_saved(conn, video_id)
        if texts_changed and video.status is Status.PUBLISHED:
            _emit(conn, catalogue, "VideoTextsChanged", video_id, _texts_data(edited, catalogue.clock()))
        audit_video_action(conn, catalogue, principal, "video.edited", video_id)
        return edited


def publish(catalogue: Catalogue, principal: Principal, video_id: UUID) -> Video:
    """Make a ready video public (dated now unless it has a date): VideoPublished. Publishing a
    published video changes nothing."""
    with catalogue.pool.connection() as conn, conn.transaction():
        video = video_store.lock_video(conn, video_id)
        if video is None:
            raise NotFound("There is no such video.")
        if video.status is Status.PUBLISHED:
            return video
        if video.status is not Status.READY:
            raise Conflict(f"Only a ready video can be published; this one is {video.status}.")
        published_at = video.published_at or catalogue.clock()
        video_store.set_status(conn, video_id, Status.PUBLISHED, published_at)
        published = video_as_saved(conn, video_id)
        _emit(conn, catalogue, "VideoPublished", video_id, published_data(published))
        audit_video_action(conn, catalogue, principal, "video.published", video_id)
        return published


def withdraw(catalogue: Catalogue, principal: Principal, video_id: UUID) -> Video:
    """Take a published video back to ready: VideoUnpublished. A video not published stays as it is."""
    with catalogue.pool.connection() as conn, conn.transaction():
        video = video_store.lock_video(conn, video_id)
        if video is None:
            raise NotFound("There is no such video.")
        if video.status is not Status.PUBLISHED:
            return video
        video_store.set_status(conn, video_id, Status.READY, video.published_at)
        data = {"video_id": str(video_id), "unpublished_at": catalogue.clock().isoformat()}
        _emit(conn, catalogue, "VideoUnpublished", video_id, data)
        audit_video_action(conn, catalogue, principal, "video.unpublished", video_id)
        return video_as_saved(conn, video_id)


def published_data(video: Video) -> dict[str, Any]:
    """The data of a VideoPublished event for `video`."""
    assert video.published_at is not None
    return {
        "video_id": str(video.id),
        "title": {"en": video.title.en, "fr": video.title.fr},
        "published_at": video.published_at.isoformat(),
        "renditions": [
            {"id": str(r.id), "label": r.label, "container": r.container, "codec": r.codec, "width": r.width,
             "height": r.height, "size_bytes": r.size_bytes, "sha256": r.checksum}
            for r in video.renditions
        ],
        "texts_revision": video.texts_revision,
    }  # fmt: skip


def _texts_data(video: Video, changed_at: datetime) -> dict[str, Any]:
    """The data of a VideoTextsChanged event for `video`, as saved."""
    return {
        "video_id": str(video.id),
        "title": {"en": video.title.en, "fr": video.title.fr},
        "description": {"en": video.description.en, "fr": video.description.fr},
        "texts_revision": video.texts_revision,
        "changed_at": changed_at.isoformat(),
    }


def announce_import(
    conn: psycopg.Connection, catalogue: Catalogue, principal: Principal, video: Video
) -> None:
    """A video registered from files already in storage is published at once: say so, and audit both
    (who made a video public is read from the trail's video.published, whichever way it went)."""
    _emit(conn, catalogue, "VideoPublished", video.id, published_data(video))
    audit_video_action(conn, catalogue, principal, "video.created", video.id)
    audit_video_action(conn, catalogue, principal, "video.published", video.id)


def video_as_saved(conn: psycopg.Connection, video_id: UUID) -> Video:
    """The video as this transaction, which holds its lock, left it."""
    video = video_store.find_video(conn, video_id)
    assert video is not None  # locked by this transaction
    return video


def _emit(
    conn: psycopg.Connection, catalogue: Catalogue, kind: str, video_id: UUID, data: dict[str, Any]
) -> None:
    """Enqueue the video's event, numbered (video_revision) after every one before it."""
    data = {**data, "video_revision": video_store.count_event(conn, video_id)}
    event = new_event(kind, source=SOURCE, subject=str(video_id), data=data)
    outbox.enqueue(conn, VIDEO_EVENTS, event)


def audit_video_action(
    conn: psycopg.Connection, catalogue: Catalogue, principal: Principal, action: str, video_id: UUID
) -> None:
    """Record an editor's action on the video in the audit trail (OperatorActionRecorded)."""
    record_action(
        conn, source=SOURCE, actor_account_id=principal.account_id, action=action, target=f"video {video_id}",
    )  # fmt: skip
