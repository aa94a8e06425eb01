"""The catalogue's SQL: videos and renditions, full-text search, download grants."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from catalogue.domain.videos import Rendition, SearchQuery, Video

VIDEO_FIELDS = "id title description published_at duration_s people location tags thumbnail_key".split()
VIDEO_COLUMNS = ", ".join(f"v.{name}" for name in VIDEO_FIELDS)
RENDITION_FIELDS = tuple(
    "id label container codec width height bitrate size_bytes checksum storage_key".split()
)
RENDITION_COLUMNS = ", ".join(RENDITION_FIELDS)
FILTERS = """(%(from)s::timestamptz IS NULL OR v.published_at >= %(from)s)
    AND (%(before)s::timestamptz IS NULL OR v.published_at < %(before)s)
    AND (%(tag)s::text IS NULL OR v.tags @> ARRAY[%(tag)s::text])"""
# Full-text search lists title hits (the whole query matches the title) first, then the other hits,
# each group by rank (title words weigh more) then newest. Counts rank nothing; ranking the other
# hits, the costly part for a common word, happens only for pages that reach past the title hits.
MATCHES = f"""FROM videos v, websearch_to_tsquery('english', %(text)s) AS q (query)
    WHERE v.search @@ q.query AND {FILTERS}"""
COUNT_MATCHES = f"""
    SELECT (SELECT count(*) {MATCHES}) AS total,
           (SELECT count(*) {MATCHES} AND v.title_search @@ q.query) AS title_total"""
TITLE_HITS = f"""
    SELECT {VIDEO_COLUMNS} {MATCHES} AND v.title_search @@ q.query
    ORDER BY ts_rank(v.search, q.query) DESC, v.published_at DESC, v.id DESC
    LIMIT %(limit)s OFFSET %(offset)s"""
# Ranked on narrow rows (ids and sort keys), then joined for the page: the sort never carries descriptions.
OTHER_HITS = f"""
    WITH ranked AS (
        SELECT v.id, ts_rank(v.search, q.query) AS rank, v.published_at
        {MATCHES} AND NOT v.title_search @@ q.query
        ORDER BY rank DESC, v.published_at DESC, v.id DESC
        LIMIT %(limit)s OFFSET %(offset)s)
    SELECT {VIDEO_COLUMNS} FROM ranked r JOIN videos v ON v.id = r.id
    ORDER BY r.rank DESC, r.published_at DESC, r.id DESC"""
COUNT_ALL = f"SELECT count(*) AS total FROM videos v WHERE {FILTERS}"
BROWSE = f"""
    SELECT {VIDEO_COLUMNS} FROM videos v WHERE {FILTERS}
    ORDER BY v.published_at DESC, v.id DESC
    LIMIT %(limit)s OFFSET %(offset)s"""


@dataclass(frozen=True)
class SearchPage:
    videos: list[Video]
    total: int


@dataclass(frozen=True)
class Grant:
    """A download link handed out: which rendition, for how long, and whether it was used yet."""

    id: UUID
    rendition_id: UUID
    expires_at: datetime


def insert_video(conn: psycopg.Connection, video: Video) -> None:
    """Store a video and its renditions (in the caller's transaction)."""
    conn.execute(
        """INSERT INTO videos (id, title, description, published_at, duration_s, people, location, tags,
                               thumbnail_key)
           VALUES (%(id)s, %(title)s, %(description)s, %(published_at)s, %(duration_s)s, %(people)s,
                   %(location)s, %(tags)s, %(thumbnail_key)s)""",
        _video_row(video),
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO renditions (video_id, position, {RENDITION_COLUMNS})
                VALUES (%(video_id)s, %(position)s, %(id)s, %(label)s, %(container)s, %(codec)s, %(width)s,
                        %(height)s, %(bitrate)s, %(size_bytes)s, %(checksum)s, %(storage_key)s)""",
            [
                {**rendition.__dict__, "video_id": video.id, "position": position}
                for position, rendition in enumerate(video.renditions)
            ],
        )


def video_exists(conn: psycopg.Connection, video_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is not None


def find_video(conn: psycopg.Connection, video_id: UUID) -> Video | None:
    """The video with its renditions; None when there is no such video."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(f"SELECT {VIDEO_COLUMNS} FROM videos v WHERE v.id = %s", (video_id,)).fetchone()
        if row is None:
            return None
        renditions = cursor.execute(
            f"SELECT {RENDITION_COLUMNS} FROM renditions WHERE video_id = %s ORDER BY position", (video_id,)
        ).fetchall()
    return Video(**row, renditions=[Rendition(**rendition) for rendition in renditions])


def search_videos(conn: psycopg.Connection, query: SearchQuery) -> SearchPage:
    """One page of videos (without renditions) matching the query, and how many match in all."""
    params: dict[str, Any] = {
        "text": query.text,
        "from": query.published_from,
        "before": query.published_before,
        "tag": query.tag,
        "limit": query.per_page,
        "offset": query.offset,
    }
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        if query.text.strip():
            return _search(cursor, query, params)
        count = cursor.execute(COUNT_ALL, params).fetchone()
        rows = cursor.execute(BROWSE, params).fetchall()
    return SearchPage([Video(**row) for row in rows], count["total"] if count else 0)


def _search(cursor: psycopg.Cursor[dict[str, Any]], query: SearchQuery, params: dict[str, Any]) -> SearchPage:
    counts = cursor.execute(COUNT_MATCHES, params).fetchone() or {"total": 0, "title_total": 0}
    total, title_total = counts["total"], counts["title_total"]
    rows = cursor.execute(TITLE_HITS, params).fetchall() if query.offset < title_total else []
    missing = query.per_page - len(rows)
    if missing and total > title_total:
        others = {**params, "limit": missing, "offset": max(0, query.offset - title_total)}
        rows += cursor.execute(OTHER_HITS, others).fetchall()
    return SearchPage([Video(**row) for row in rows], total)


def find_rendition(conn: psycopg.Connection, video_id: UUID, rendition_id: UUID) -> Rendition | None:
    row = conn.execute(
        f"SELECT {RENDITION_COLUMNS} FROM renditions WHERE video_id = %s AND id = %s",
        (video_id, rendition_id),
    ).fetchone()
    return None if row is None else Rendition(*row)


def rendition_with_title(conn: psycopg.Connection, rendition_id: UUID) -> tuple[Rendition, str] | None:
    """A rendition and its video's title (for the download's file name)."""
    row = conn.execute(
        f"""SELECT {", ".join("r." + column for column in RENDITION_FIELDS)}, v.title
            FROM renditions r JOIN videos v ON v.id = r.video_id WHERE r.id = %s""",
        (rendition_id,),
    ).fetchone()
    return None if row is None else (Rendition(*row[:-1]), row[-1])


def insert_grant(conn: psycopg.Connection, grant: Grant, account_id: UUID) -> None:
    conn.execute(
        "INSERT INTO download_grants (id, rendition_id, account_id, expires_at) VALUES (%s, %s, %s, %s)",
        (grant.id, grant.rendition_id, account_id, grant.expires_at),
    )


def grant_exists(conn: psycopg.Connection, grant_id: UUID, rendition_id: UUID) -> bool:
    row = conn.execute(
        "SELECT 1 FROM download_grants WHERE id = %s AND rendition_id = %s AND revoked_at IS NULL",
        (grant_id, rendition_id),
    ).fetchone()
    return row is not None


def count_first_download(conn: psycopg.Connection, grant_id: UUID) -> bool:
    """Mark the grant used and count its rendition's download, the first time only; True if counted."""
    row = conn.execute(
        """WITH used AS (
               UPDATE download_grants SET first_download_at = now()
               WHERE id = %s AND first_download_at IS NULL RETURNING rendition_id)
           UPDATE renditions SET download_count = download_count + 1
           WHERE id = (SELECT rendition_id FROM used) RETURNING 1""",
        (grant_id,),
    ).fetchone()
    return row is not None


def download_count(conn: psycopg.Connection, rendition_id: UUID) -> int:
    row = conn.execute("SELECT download_count FROM renditions WHERE id = %s", (rendition_id,)).fetchone()
    return int(row[0]) if row else 0


def forget_account_grants(conn: psycopg.Connection, account_id: UUID) -> None:
    """An erased account: every link of it dies; the used ones stay only as anonymous counts."""
    conn.execute(
        "DELETE FROM download_grants WHERE account_id = %s AND first_download_at IS NULL", (account_id,)
    )
    conn.execute(
        """UPDATE download_grants SET account_id = NULL, revoked_at = coalesce(revoked_at, now())
           WHERE account_id = %s""",
        (account_id,),
    )


def revoke_grants_before(conn: psycopg.Connection, account_id: UUID, before: datetime) -> None:
    """A password reset: the links the account was given before it die."""
    conn.execute(
        """UPDATE download_grants SET revoked_at = now()
           WHERE account_id = %s AND created_at < %s AND revoked_at IS NULL""",
        (account_id, before),
    )


def _video_row(video: Video) -> dict[str, Any]:
    return {key: value for key, value in video.__dict__.items() if key != "renditions"}
