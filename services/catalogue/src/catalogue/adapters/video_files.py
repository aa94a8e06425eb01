"""A deleted video's files, wherever storage keeps them: its master, its renditions, its images, and
whatever the transcoder stored under `videos/<id>/` (a rendition of a transcode that failed half-way)."""

from uuid import UUID

from catalogue.adapters.storage import Storage
from catalogue.domain.videos import Video


def folder(video_id: UUID) -> str:
    """The key prefix of the files the transcoder makes of a video."""
    return f"videos/{video_id}"


def remove_video_files(storage: Storage, video: Video) -> None:
    """Delete every file of the video: those its row names, then its folder (StorageUnavailable when
    the store fails: the caller keeps the video, to delete again)."""
    named = [video.master_key, video.poster_key, video.thumbnail_key, video.preview_key]
    for key in [*named, *(rendition.storage_key for rendition in video.renditions)]:
        if key is not None:
            storage.delete(key)
    remove_folder(storage, video.id)


def remove_folder(storage: Storage, video_id: UUID) -> None:
    """Delete whatever is stored under the video's folder (nothing when there is none)."""
    storage.delete_folder(folder(video_id))
