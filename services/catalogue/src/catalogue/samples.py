"""The sample catalogue `make run` shows: a few videos with small real files rendered by ffmpeg.

Seeding is idempotent: every sample has a fixed id, files already rendered are kept, and a
video already in the catalogue is left alone.
"""

import functools
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

from catalogue.adapters import video_store
from catalogue.adapters.media import render_thumbnail, render_video
from catalogue.adapters.storage import MissingFile, Storage
from catalogue.bootstrap import Catalogue
from catalogue.domain.videos import Encoding, Localized, NewRendition, NewVideo, Video

log = logging.getLogger(__name__)

SAMPLES_NAMESPACE = uuid.UUID("6f1b2c4e-58a4-4f4e-9a51-8c0e6b7d2a10")
HD_MP4 = Encoding("1080p MP4", "mp4", "h264", 1920, 1080, 8_000_000)
SD_MP4 = Encoding("360p MP4", "mp4", "h264", 640, 360, 800_000)
BROADCAST_MXF = Encoding("Broadcast MXF", "mxf", "mpeg2video", 1920, 1080, 50_000_000)


@dataclass(frozen=True)
class Sample:
    """A sample video: its metadata, and the ffmpeg test pattern its files show."""

    slug: str
    pattern: str
    video: NewVideo

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(SAMPLES_NAMESPACE, self.slug)

    @property
    def thumbnail_key(self) -> str:
        return thumbnail_key(self.slug)


def thumbnail_key(slug: str) -> str:
    return f"samples/{slug}/thumbnail.jpg"


def sample(slug: str, pattern: str, encodings: tuple[Encoding, ...], **metadata: Any) -> Sample:
    """A sample whose files are stored under samples/<slug>/."""
    renditions = [
        NewRendition(
            **encoding.encoding_fields(),
            storage_key=f"samples/{slug}/{encoding.height}p.{encoding.container}",
        )
        for encoding in encodings
    ]
    video = NewVideo(**metadata, renditions=renditions, thumbnail_key=thumbnail_key(slug))
    return Sample(slug, pattern, video)


def article() -> str:
    """The seed's article about the Stoltenberg–Dedonder meeting."""
    return files("catalogue").joinpath("data/stoltenberg-dedonder.txt").read_text(encoding="utf-8").strip()


SAMPLES = (
    sample(
        "stoltenberg-dedonder",
        "testsrc2",
        (HD_MP4, SD_MP4, BROADCAST_MXF),
        title=Localized(
            "Secretary General welcomes the Belgian Minister of Defence",
            "Le Secrétaire général accueille la ministre belge de la Défense",
        ),
        description=Localized(
            article(),
            "Le Secrétaire général de l'OTAN, Jens Stoltenberg, a accueilli la ministre belge de la Défense, "
            "Ludivine Dedonder, au siège de l'OTAN à Bruxelles.",
        ),
        published_at=datetime(2021, 2, 11, 14, 0, tzinfo=UTC),
        duration_s=4,
        people=["Jens Stoltenberg", "Ludivine Dedonder"],
        location="NATO Headquarters, Brussels",
        tags=["defence ministers", "belgium", "afghanistan"],
    ),
    sample(
        "baltic-air-policing",
        "smptehdbars",
        (HD_MP4, SD_MP4),
        title=Localized(
            "Baltic Air Policing: fighter jets on quick reaction alert",
            "Police du ciel balte : des avions de chasse en alerte de réaction rapide",
        ),
        description=Localized(
            "Allied fighter jets scramble from Ämari Air Base to identify aircraft approaching "
            "Alliance airspace over the Baltic Sea. Footage of the take-off, the intercept and the return.",
            "Des avions de chasse alliés décollent de la base aérienne d'Ämari pour identifier des appareils "
            "qui approchent de l'espace aérien de l'Alliance au-dessus de la mer Baltique.",
        ),
        published_at=datetime(2021, 1, 20, 9, 30, tzinfo=UTC),
        duration_s=3,
        people=[],
        location="Ämari Air Base, Estonia",
        tags=["air policing", "estonia"],
    ),
    sample(
        "nato-2030",
        "rgbtestsrc",
        (SD_MP4,),
        title=Localized(
            "NATO 2030: making a strong Alliance even stronger",
            "OTAN 2030 : rendre une Alliance forte plus forte encore",
        ),
        description=Localized(
            "The Secretary General presents the NATO 2030 initiative to students in Brussels and "
            "answers their questions on the future of the Alliance.",
            "Le Secrétaire général présente l'initiative OTAN 2030 à des étudiants à Bruxelles et répond "
            "à leurs questions sur l'avenir de l'Alliance.",
        ),
        published_at=datetime(2021, 2, 16, 16, 0, tzinfo=UTC),
        duration_s=3,
        people=["Jens Stoltenberg"],
        location="Brussels",
        tags=["nato 2030", "youth"],
    ),
)


def seed(catalogue: Catalogue, storage: Storage) -> int:
    """Render any missing sample file and add any missing sample video; how many videos were added."""
    added = 0
    for sample in SAMPLES:
        with catalogue.pool.connection() as conn:
            if video_store.video_exists(conn, sample.id):
                continue
        video = _render(sample, storage)
        with catalogue.pool.connection() as conn, conn.transaction():
            video_store.insert_video(conn, video)
        log.info("sample video %s added", sample.slug)
        added += 1
    return added


def _render(sample: Sample, storage: Storage) -> Video:
    new = sample.video
    _ensure(storage, sample.thumbnail_key, lambda path: render_thumbnail(path, sample.pattern))
    renditions = []
    for rendition in new.renditions:
        key = rendition.storage_key
        _ensure(storage, key, functools.partial(_render_video, rendition, new.duration_s, sample.pattern))
        rendition_id = uuid.uuid5(sample.id, rendition.label)
        renditions.append(rendition.stored(rendition_id, storage.size(key), storage.checksum(key)))
    return new.stored(sample.id, renditions)


def _render_video(encoding: Encoding, duration_s: float, pattern: str, path: Path) -> None:
    render_video(path, encoding, duration_s, pattern)


def _ensure(storage: Storage, key: str, render: Callable[[Path], None]) -> None:
    """Render the file into a temporary folder and store it, unless storage has it already."""
    try:
        storage.size(key)
        return
    except MissingFile:
        pass
    with tempfile.TemporaryDirectory(prefix="catalogue-sample-") as folder:
        path = Path(folder) / PurePosixPath(key).name
        render(path)
        with path.open("rb") as file:
            storage.put(key, file)
