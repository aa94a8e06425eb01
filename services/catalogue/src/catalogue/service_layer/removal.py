"""Editors' use cases for a video that never went public: transcode again one whose transcoding
failed, from its master as uploaded, or delete one never published (failed, processing, or ready)
with its files. Each is audited (OperatorActionRecorded: video.retried, video.deleted); neither is a
video event, since only a published video was ever announced. A published or withdrawn video stays
(publishing.withdraw takes one back from the public).

Both lock the video's job, then its row, as the transcoder does: a transcoder working on a video
being deleted waits for the deletion, then finds its job gone (its lease lost) and stores nothing
more, and what it stored meanwhile goes too (see transcoder.Transcoder._forget_if_deleted)."""

import logging
from uuid import UUID

from accounts_common.auth import Principal
from catalogue.adapters import job_store, video_store
from catalogue.adapters.storage import MissingFile
from catalogue.adapters.video_files import remove_video_files
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Status, Video
from catalogue.service_layer.errors import Conflict, MasterGone, NotFound
from catalogue.service_layer.publishing import audit_video_action, video_as_saved

log = logging.getLogger(__name__)


def retry(catalogue: Catalogue, principal: Principal, video_id: UUID) -> Video:
    """Queue a failed video's transcoding again (attempts new), from its master if storage still has it;
    Conflict when the video did not fail, MasterGone when its master is gone (to upload again)."""
    with catalogue.pool.connection() as conn, conn.transaction():
        job_store.lock_job(conn, video_id)
        video = video_store.lock_video(conn, video_id)
        if video is None:
            raise NotFound("There is no such video.")
        if video.status is not Status.FAILED:
            raise Conflict(
                f"Only a video whose transcoding failed is transcoded again; this one is {video.status}."
            )
        try:
            if video.master_key is None:
                raise MissingFile(str(video_id))
            catalogue.storage.size(video.master_key)
        except MissingFile:
            raise MasterGone(
                "The video's uploaded file is no longer in storage: delete the video, and upload the "
                "file again."
            ) from None
        job_store.requeue_job(conn, video_id)
        audit_video_action(conn, catalogue, principal, "video.retried", video_id)
        return video_as_saved(conn, video_id)


def delete(catalogue: Catalogue, principal: Principal, video_id: UUID) -> None:
    """Delete a video never published, its rows (renditions, job, upload) and its files; Conflict for
    one published, or withdrawn since. The files go within the transaction: when the store fails, the
    video stays (some of its files gone), to delete again."""
    with catalogue.pool.connection() as conn, conn.transaction():
        job_store.lock_job(conn, video_id)
        video = video_store.lock_video(conn, video_id)
        if video is None:
            raise NotFound("There is no such video.")
        if not video.deletable:
            raise Conflict(
                "A video that was published stays in the catalogue: withdraw it to take it from the public."
            )
        video_store.delete_video(conn, video_id)
        audit_video_action(conn, catalogue, principal, "video.deleted", video_id)
        remove_video_files(catalogue.storage, video)
    log.info("video %s deleted with its files", video_id)
