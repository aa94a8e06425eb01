"""The sample catalogue `make run` shows: a few videos with small real files rendered by ffmpeg.

Seeding is idempotent: every sample has a fixed id, files already rendered are kept, and a
video already in the catalogue is left alone.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files

from catalogue.adapters import repository
from catalogue.adapters.media import Encoding, render_thumbnail, render_video
from catalogue.adapters.storage import LocalStorage
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Rendition, Video

log = logging.getLogger(__name__)

SAMPLES_NAMESPACE = uuid.UUID("6f1b2c4e-58a4-4f4e-9a51-8c0e6b7d2a10")
HD_MP4 = ("1080p MP4", Encoding("mp4", "h264", 1920, 1080, 8_000_000))
SD_MP4 = ("360p MP4", Encoding("mp4", "h264", 640, 360, 800_000))
BROADCAST_MXF = ("Broadcast MXF", Encoding("mxf", "mpeg2video", 1920, 1080, 50_000_000))


@dataclass(frozen=True)
class Sample:
    slug: str
    title: str
    description: str
    published_at: datetime
    duration_s: float
    people: list[str]
    location: str
    tags: list[str]
    pattern: str
    renditions: tuple[tuple[str, Encoding], ...]

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(SAMPLES_NAMESPACE, self.slug)


def article() -> str:
    """The seed's article about the Stoltenberg–Dedonder meeting."""
    return files("catalogue").joinpath("data/stoltenberg-dedonder.txt").read_text(encoding="utf-8").strip()


SAMPLES = (
    Sample(
        slug="stoltenberg-dedonder",
        title="Secretary General welcomes the Belgian Minister of Defence",
        description=article(),
        published_at=datetime(2021, 2, 11, 14, 0, tzinfo=UTC),
        duration_s=4,
        people=["Jens Stoltenberg", "Ludivine Dedonder"],
        location="NATO Headquarters, Brussels",
        tags=["defence ministers", "belgium", "afghanistan"],
        pattern="testsrc2",
        renditions=(HD_MP4, SD_MP4, BROADCAST_MXF),
    ),
    Sample(
        slug="baltic-air-policing",
        title="Baltic Air Policing: fighter jets on quick reaction alert",
        description="Allied fighter jets scramble from Ämari Air Base to identify aircraft approaching "
        "Alliance airspace over the Baltic Sea. Footage of the take-off, the intercept and the return.",
        published_at=datetime(2021, 1, 20, 9, 30, tzinfo=UTC),
        duration_s=3,
        people=[],
        location="Ämari Air Base, Estonia",
        tags=["air policing", "estonia"],
        pattern="smptehdbars",
        renditions=(HD_MP4, SD_MP4),
    ),
    Sample(
        slug="nato-2030",
        title="NATO 2030: making a strong Alliance even stronger",
        description="The Secretary General presents the NATO 2030 initiative to students in Brussels and "
        "answers their questions on the future of the Alliance.",
        published_at=datetime(2021, 2, 16, 16, 0, tzinfo=UTC),
        duration_s=3,
        people=["Jens Stoltenberg"],
        location="Brussels",
        tags=["nato 2030", "youth"],
        pattern="rgbtestsrc",
        renditions=(SD_MP4,),
    ),
)


def seed(catalogue: Catalogue, storage: LocalStorage) -> int:
    """Render any missing sample file and add any missing sample video; how many videos were added."""
    added = 0
    for sample in SAMPLES:
        with catalogue.pool.connection() as conn:
            if repository.video_exists(conn, sample.id):
                continue
        video = _render(sample, storage)
        with catalogue.pool.connection() as conn, conn.transaction():
            repository.insert_video(conn, video)
        log.info("sample video %s added", sample.slug)
        added += 1
    return added


def _render(sample: Sample, storage: LocalStorage) -> Video:
    thumbnail_key = f"samples/{sample.slug}/thumbnail.jpg"
    if not storage.path(thumbnail_key).exists():
        render_thumbnail(storage.path(thumbnail_key), sample.pattern)
    renditions = []
    for label, encoding in sample.renditions:
        key = f"samples/{sample.slug}/{encoding.height}p.{encoding.container}"
        if not storage.path(key).exists():
            render_video(storage.path(key), encoding, sample.duration_s, sample.pattern)
        renditions.append(
            Rendition(
                id=uuid.uuid5(sample.id, label),
                label=label,
                container=encoding.container,
                codec=encoding.codec,
                width=encoding.width,
                height=encoding.height,
                bitrate=encoding.bitrate,
                size_bytes=storage.size(key),
                checksum=storage.checksum(key),
                storage_key=key,
            )
        )
    return Video(
        id=sample.id,
        title=sample.title,
        description=sample.description,
        published_at=sample.published_at,
        duration_s=sample.duration_s,
        people=sample.people,
        location=sample.location,
        tags=sample.tags,
        thumbnail_key=thumbnail_key,
        renditions=renditions,
    )
