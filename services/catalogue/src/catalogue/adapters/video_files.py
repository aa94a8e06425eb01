"""A deleted video's files, wherever storage keeps them: its master, its renditions, its images, and
whatever the transcoder stored under `videos/<id>/` (a rendition of a transcode that failed half-way)."""

import shutil
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from catalogue.adapters.storage import LocalStorage, S3Storage, Storage, StorageUnavailable
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
    if isinstance(storage, LocalStorage):
        path = storage.path(folder(video_id))
        if path.is_dir():
            shutil.rmtree(path)
    elif isinstance(storage, S3Storage):
        prefix = storage.object_key(folder(video_id)) + "/"
        try:
            for page in storage.client.get_paginator("list_objects_v2").paginate(
                Bucket=storage.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    storage.client.delete_object(Bucket=storage.bucket, Key=item["Key"])
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"s3://{storage.bucket}/{prefix}: {error}") from error
