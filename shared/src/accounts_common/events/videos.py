"""The data of the catalogue's video events (catalogue.video-events.v1), version 1."""

from typing import Any

from marshmallow import fields, validate

from accounts_common.events.base import EventData, meaning
from accounts_common.textfields import WholeMatch

VIDEO_ID = meaning("The video's id in the catalogue (a UUID that never changes); also the record key.")


class LocalizedText(EventData):
    en = fields.String(required=True, metadata=meaning("The text in English; empty when there is none."))
    fr = fields.String(required=True, metadata=meaning("The text in French; empty when there is none."))


class PublishedRendition(EventData):
    id = fields.UUID(required=True, metadata=meaning("The rendition's id, for a download link."))
    label = fields.String(
        required=True, metadata=meaning("What it is, for people: 720p MP4, Broadcast master…")
    )
    container = fields.String(required=True, metadata=meaning("The file format: mp4, mxf, mov…"))
    codec = fields.String(required=True, metadata=meaning("The video codec, as ffprobe names it."))
    width = fields.Integer(required=True, metadata=meaning("Picture width in pixels."))
    height = fields.Integer(required=True, metadata=meaning("Picture height in pixels."))
    size_bytes = fields.Integer(required=True, metadata=meaning("The file's size in bytes."))
    sha256 = fields.String(
        required=True,
        validate=WholeMatch(r"^[0-9a-f]{64}$"),
        metadata=meaning("SHA-256 of the file's bytes, lower-case hex."),
    )


def texts_revision_field(text: str, **kwargs: Any) -> fields.Integer:
    """A video's texts revision: the catalogue numbers each change of its titles and descriptions."""
    return fields.Integer(strict=True, validate=validate.Range(min=0), metadata=meaning(text), **kwargs)


def video_revision_field() -> fields.Integer:
    """The number that orders all of a video's events (optional: absent from events written before it).
    Its meaning, part of v1's contract, stays as written: the catalogue's numbers are no longer
    consecutive counts (docs/events.md, "Ordering a video's events"), but a later event's is higher."""
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata=meaning(
            "Orders all of the video's events: the catalogue counts them, so a later event of the video "
            "has a higher one. A consumer keeps, for each thing it keeps of the video (its publication, "
            "its texts), the number of the event that thing came from, and takes it from an event only "
            "when that event's number is higher: never from one redelivered or replayed late. Absent from "
            "events written before it existed."
        ),
    )


def is_newer(video_revision: int | None, applied: int | None) -> bool:
    """Whether a video event numbered `video_revision` is to be applied over what a consumer kept from
    the event numbered `applied`: when its number is higher, or nothing was kept from a numbered one.
    An event without one was written before the catalogue numbered them: older than any numbered event
    of the video, it is applied only while none was."""
    if applied is None:
        return True
    return video_revision is not None and video_revision > applied


class VideoPublished(EventData):
    """A video went public: anyone may now watch its preview, verified accounts download it."""

    video_id = fields.UUID(required=True, metadata=VIDEO_ID)
    title = fields.Nested(LocalizedText, required=True, metadata=meaning("The title in English and French."))
    published_at = fields.AwareDateTime(
        required=True, metadata=meaning("The date the video is published under.")
    )
    renditions = fields.List(
        fields.Nested(PublishedRendition), required=True, metadata=meaning("Its files, best first.")
    )
    texts_revision = texts_revision_field(
        "The revision of the texts it carries (see VideoTextsChanged). Absent from older events."
    )
    video_revision = video_revision_field()


class VideoUnpublished(EventData):
    """A published video was withdrawn: it is no longer listed nor downloadable."""

    video_id = fields.UUID(required=True, metadata=VIDEO_ID)
    unpublished_at = fields.AwareDateTime(required=True, metadata=meaning("When it was withdrawn."))
    video_revision = video_revision_field()


class VideoTextsChanged(EventData):
    """An editor changed a published video's title or description (in either language)."""

    video_id = fields.UUID(required=True, metadata=VIDEO_ID)
    title = fields.Nested(LocalizedText, required=True, metadata=meaning("The title in English and French."))
    description = fields.Nested(
        LocalizedText, required=True, metadata=meaning("The description in English and French.")
    )
    texts_revision = texts_revision_field(
        "Counts the changes of the video's texts: a higher one is newer. A consumer that applied a "
        "revision ignores an event of that revision or a lower one (redelivered, or replayed late).",
        required=True,
    )
    changed_at = fields.AwareDateTime(required=True, metadata=meaning("When the change was saved."))
    video_revision = video_revision_field()
