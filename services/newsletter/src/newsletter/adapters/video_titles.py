"""The newsletter's SQL for the titles it keeps of the catalogue's videos (migration 007)."""

from dataclasses import dataclass
from uuid import UUID

import psycopg


@dataclass(frozen=True)
class KnownTitles:
    """A video's titles by language, as the event of texts revision `revision` gave them."""

    titles: dict[str, str]
    revision: int


def locked(conn: psycopg.Connection, video_id: UUID) -> KnownTitles | None:
    """The titles kept for the video, locked until the transaction ends; None when none are kept."""
    row = conn.execute(
        "SELECT title_en, title_fr, texts_revision FROM video_titles WHERE video_id = %s FOR UPDATE",
        (video_id,),
    ).fetchone()
    return None if row is None else KnownTitles({"en": row[0], "fr": row[1]}, row[2])


def keep(conn: psycopg.Connection, video_id: UUID, titles: dict[str, str], revision: int) -> None:
    """Keep these titles for the video, unless titles of a higher revision are kept already."""
    conn.execute(
        """INSERT INTO video_titles (video_id, title_en, title_fr, texts_revision) VALUES (%s, %s, %s, %s)
           ON CONFLICT (video_id) DO UPDATE
           SET title_en = EXCLUDED.title_en, title_fr = EXCLUDED.title_fr,
               texts_revision = EXCLUDED.texts_revision
           WHERE video_titles.texts_revision <= EXCLUDED.texts_revision""",
        (video_id, titles.get("en") or "", titles.get("fr") or "", revision),
    )
