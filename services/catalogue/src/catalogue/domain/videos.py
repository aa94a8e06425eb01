"""Videos and their renditions, as the catalogue describes them (no I/O)."""

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from accounts_common.paging import PER_PAGE, offset

EXTENSIONS = {"mp4": "mp4", "mov": "mov", "mxf": "mxf", "webm": "webm", "mkv": "mkv", "mpegts": "ts"}
MEDIA_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "mxf": "application/mxf", "webm": "video/webm"}
MAX_FILENAME_STEM = 80


@dataclass(frozen=True)
class Encoding:
    """How a rendition's file is encoded: what people call it, container, codec, picture size, bits/s."""

    label: str
    container: str
    codec: str
    width: int
    height: int
    bitrate: int

    def encoding_fields(self) -> dict[str, Any]:
        """The encoding alone, to describe another file of it."""
        return {item.name: getattr(self, item.name) for item in fields(Encoding)}

    def rendition(self, rendition_id: UUID, size_bytes: int, checksum: str, storage_key: str) -> "Rendition":
        """A stored file of this encoding, as the catalogue keeps it."""
        return Rendition(
            **self.encoding_fields(),
            id=rendition_id,
            size_bytes=size_bytes,
            checksum=checksum,
            storage_key=storage_key,
        )


@dataclass(frozen=True, kw_only=True)
class Rendition(Encoding):
    """One file of a video: an encoding, stored under `storage_key`."""

    id: UUID
    size_bytes: int
    checksum: str
    storage_key: str


LANGUAGES = ("en", "fr")


class Status(StrEnum):
    """A video's life: transcoded after its upload, then public once an editor publishes it."""

    PROCESSING = "processing"
    READY = "ready"
    PUBLISHED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class Localized:
    """A text in English and French; either may be empty."""

    en: str = ""
    fr: str = ""

    def best(self, language: str) -> str:
        """The text in `language`, else in the other one."""
        first, other = (self.fr, self.en) if language == "fr" else (self.en, self.fr)
        return first or other


@dataclass(frozen=True)
class Video:
    """A video of the catalogue with its renditions, best first."""

    id: UUID
    title: Localized
    description: Localized
    published_at: datetime | None
    duration_s: float
    people: list[str]
    location: str
    tags: list[str]
    thumbnail_key: str | None
    renditions: list[Rendition] = field(default_factory=list)
    status: Status = Status.PUBLISHED
    progress: int = 100
    failure: str | None = None
    poster_key: str | None = None
    preview_key: str | None = None
    master_key: str | None = None
    texts_revision: int = 0  # counts the changes of its titles and descriptions
    ever_published: bool = False  # published once, withdrawn since included

    @property
    def deletable(self) -> bool:
        """Only a video never published may be deleted (one withdrawn may have been linked, downloaded)."""
        return self.status is not Status.PUBLISHED and not self.ever_published

    @property
    def texts_version(self) -> str:
        """A digest of the titles and descriptions as saved: an edit says which it was typed over, and
        one typed over texts saved since is refused."""
        texts = [self.title.en, self.title.fr, self.description.en, self.description.fr]
        return hashlib.sha256(json.dumps(texts).encode()).hexdigest()

    def edited_texts(self, changes: Mapping[str, Any]) -> tuple[Localized, Localized]:
        """The title and description after an edit's `changes` (`title_en`…: the languages it names)."""
        return (
            Localized(changes.get("title_en", self.title.en), changes.get("title_fr", self.title.fr)),
            Localized(
                changes.get("description_en", self.description.en),
                changes.get("description_fr", self.description.fr),
            ),
        )

    def texts_differ(self, title: Localized, description: Localized) -> bool:
        """Whether saving these texts changes any of the video's: a new revision (and, once published, a
        VideoTextsChanged event); the same words saved again are none."""
        return (title, description) != (self.title, self.description)


@dataclass(frozen=True)
class NewRendition(Encoding):
    """A rendition an operator registers: its file must already be in storage."""

    storage_key: str
    checksum: str | None = None

    def stored(self, rendition_id: UUID, size_bytes: int, checksum: str) -> Rendition:
        """The rendition as the catalogue keeps it, once its file's size and checksum are known."""
        return self.rendition(rendition_id, size_bytes, checksum, self.storage_key)


@dataclass(frozen=True)
class NewVideo:
    """What an operator ingests: metadata and renditions whose files are already in storage."""

    title: Localized
    description: Localized
    published_at: datetime
    duration_s: float
    people: list[str]
    location: str
    tags: list[str]
    renditions: list[NewRendition]
    thumbnail_key: str | None = None

    def stored(self, video_id: UUID, renditions: list[Rendition]) -> Video:
        """The video as the catalogue keeps it, with its stored renditions (published at once)."""
        return Video(
            video_id, self.title, self.description, self.published_at, self.duration_s, self.people,
            self.location, self.tags, self.thumbnail_key, renditions,
        )  # fmt: skip


@dataclass(frozen=True)
class Submission:
    """What an editor submits for publishing: a finished upload and its metadata in both languages."""

    upload_id: UUID
    title: Localized
    description: Localized
    published_at: datetime | None
    people: list[str]
    location: str
    tags: list[str]

    def processing(self, video_id: UUID, master_key: str) -> Video:
        """The video while its master is transcoded: no rendition listed yet."""
        return Video(
            video_id, self.title, self.description, self.published_at, 0.0, self.people, self.location,
            self.tags, None, status=Status.PROCESSING, progress=0, master_key=master_key,
        )  # fmt: skip


@dataclass(frozen=True)
class SearchQuery:
    """A page of the catalogue: full-text words (web-search syntax), a date range and a tag."""

    text: str = ""
    published_from: datetime | None = None
    published_before: datetime | None = None
    tag: str | None = None
    everything: bool = False  # editors see every video, whatever its status
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return offset(self.page, self.per_page)


def normalise_tag(tag: str) -> str:
    """Tags compare case-insensitively and without surrounding spaces."""
    return " ".join(tag.split()).lower()


def download_filename(title: str, rendition: Rendition) -> str:
    """A safe ASCII file name for a download: the title and the rendition's label, with its extension."""
    stem = _slug(title)[:MAX_FILENAME_STEM].strip("-") or "video"
    label = _slug(rendition.label)
    extension = EXTENSIONS.get(rendition.container.lower(), "bin")
    return f"{stem}-{label}.{extension}" if label else f"{stem}.{extension}"


def media_type(container: str) -> str:
    """The Content-Type of a rendition's file."""
    return MEDIA_TYPES.get(container.lower(), "application/octet-stream")


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
