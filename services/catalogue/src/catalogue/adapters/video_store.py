"""The catalogue's SQL for videos and their renditions: storing them, full-text search in English
and French, the editors' changes, and the digests of the files."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from accounts_common.db import one_moment
from catalogue.domain.videos import Localized, Rendition, SearchQuery, Status, Video

VIDEO_FIELDS = (
    "id title_en title_fr description_en description_fr published_at duration_s people location tags "
    "thumbnail_key status progress failure poster_key preview_key master_key texts_revision ever_published"
).split()


VIDEO_COLUMNS = ", ".join(f"v.{name}" for name in VIDEO_FIELDS)


RENDITION_FIELDS = tuple(
    "id label container codec width height bitrate size_bytes checksum storage_key".split()
)


RENDITION_COLUMNS = ", ".join(RENDITION_FIELDS)


RENDITION_OF_R = ", ".join(f"r.{name}" for name in RENDITION_FIELDS)


FILTERS = """(%(everything)s OR v.status = 'published')
    AND (%(from)s::timestamptz IS NULL OR v.published_at >= %(from)s)
    AND (%(before)s::timestamptz IS NULL OR v.published_at < %(before)s)
    AND (%(tag)s::text IS NULL OR v.tags @> ARRAY[%(tag)s::text])"""


# Full-text search lists title hits (the whole query matches a title) first, then the other hits,
# each group by rank (title words weigh more) then newest. Counts rank nothing; ranking the other
# hits, the costly part for a common word, happens only for pages that reach past the title hits.
# The words are read as English and as French: a video matches in either language.
MATCHES = f"""FROM videos v, websearch_to_tsquery('english', %(text)s) AS qe (query),
        websearch_to_tsquery('french', %(text)s) AS qf (query)
    WHERE (v.search_en @@ qe.query OR v.search_fr @@ qf.query) AND {FILTERS}"""


IN_TITLE = "(v.title_search_en @@ qe.query OR v.title_search_fr @@ qf.query)"


RANK = "greatest(ts_rank(v.search_en, qe.query), ts_rank(v.search_fr, qf.query))"


# Both totals in one pass over the matches.
COUNT_MATCHES = f"""SELECT count(*) AS total, count(*) FILTER (WHERE {IN_TITLE}) AS title_total {MATCHES}"""


TITLE_HITS = f"""
    SELECT {VIDEO_COLUMNS} {MATCHES} AND {IN_TITLE}
    ORDER BY {RANK} DESC, v.published_at DESC, v.id DESC
    LIMIT %(limit)s OFFSET %(offset)s"""


# Ranked on narrow rows (ids and sort keys), then joined for the page: the sort never carries descriptions.
OTHER_HITS = f"""
    WITH ranked AS (
        SELECT v.id, {RANK} AS rank, v.published_at
        {MATCHES} AND NOT {IN_TITLE}
        ORDER BY rank DESC, v.published_at DESC, v.id DESC
        LIMIT %(limit)s OFFSET %(offset)s)
    SELECT {VIDEO_COLUMNS} FROM ranked r JOIN videos v ON v.id = r.id
    ORDER BY r.rank DESC, r.published_at DESC, r.id DESC"""


COUNT_ALL = f"SELECT count(*) AS total FROM videos v WHERE {FILTERS}"


NEWEST = "v.published_at DESC, v.id DESC"


def _browse(order: str) -> str:
    return f"""
    SELECT {VIDEO_COLUMNS} FROM videos v WHERE {FILTERS}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s"""


BROWSE = _browse(NEWEST)


# An editor's list (every status): the videos not yet published first, then the newest. A withdrawn
# video keeps its date, and would otherwise sink below every video published since.
BROWSE_EVERYTHING = _browse(f"v.status = 'published', {NEWEST}")


@dataclass(frozen=True)
class SearchPage:
    videos: list[Video]
    total: int


def insert_video(conn: psycopg.Connection, video: Video) -> None:
    """Store a video and its renditions (in the caller's transaction)."""
    conn.execute(
        f"""INSERT INTO videos ({", ".join(VIDEO_FIELDS)})
            VALUES ({", ".join(f"%({name})s" for name in VIDEO_FIELDS)})""",
        _video_row(video),
    )
    insert_renditions(conn, video.id, video.renditions)


def insert_renditions(conn: psycopg.Connection, video_id: UUID, renditions: list[Rendition]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO renditions (video_id, position, {RENDITION_COLUMNS})
                VALUES (%(video_id)s, %(position)s, %(id)s, %(label)s, %(container)s, %(codec)s, %(width)s,
                        %(height)s, %(bitrate)s, %(size_bytes)s, %(checksum)s, %(storage_key)s)""",
            [
                {**rendition.__dict__, "video_id": video_id, "position": position}
                for position, rendition in enumerate(renditions)
            ],
        )


def video_exists(conn: psycopg.Connection, video_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM videos WHERE id = %s", (video_id,)).fetchone() is not None


def find_video(conn: psycopg.Connection, video_id: UUID) -> Video | None:
    """The video with its renditions; None when there is no such video. One statement, so one
    snapshot: a transcoder finishing meanwhile is seen wholly (ready, renditions) or not at all."""
    rows = conn.execute(
        f"""SELECT {VIDEO_COLUMNS}, {RENDITION_OF_R} FROM videos v
            LEFT JOIN renditions r ON r.video_id = v.id WHERE v.id = %s ORDER BY r.position""",
        (video_id,),
    ).fetchall()
    if not rows:
        return None
    cut = len(VIDEO_FIELDS)
    renditions = [rendition_of(row[cut:]) for row in rows if row[cut] is not None]
    return video_of(dict(zip(VIDEO_FIELDS, rows[0][:cut], strict=True)), renditions)


def search_videos(conn: psycopg.Connection, query: SearchQuery) -> SearchPage:
    """One page of videos (without renditions) matching the query, and how many match in all, both as
    the catalogue stood at one moment (db.one_moment)."""
    params: dict[str, Any] = {
        "text": query.text,
        "from": query.published_from,
        "before": query.published_before,
        "tag": query.tag,
        "everything": query.everything,
        "limit": query.per_page,
        "offset": query.offset,
    }
    with one_moment(conn), conn.cursor(row_factory=dict_row) as cursor:
        if query.text.strip():
            return _search(cursor, query, params)
        count = cursor.execute(COUNT_ALL, params).fetchone()
        rows = cursor.execute(BROWSE_EVERYTHING if query.everything else BROWSE, params).fetchall()
    return SearchPage([video_of(row) for row in rows], count["total"] if count else 0)


def _search(cursor: psycopg.Cursor[dict[str, Any]], query: SearchQuery, params: dict[str, Any]) -> SearchPage:
    counts = cursor.execute(COUNT_MATCHES, params).fetchone() or {"total": 0, "title_total": 0}
    total, title_total = counts["total"], counts["title_total"]
    rows = cursor.execute(TITLE_HITS, params).fetchall() if query.offset < title_total else []
    missing = query.per_page - len(rows)
    if missing and total > title_total:
        others = {**params, "limit": missing, "offset": max(0, query.offset - title_total)}
        rows += cursor.execute(OTHER_HITS, others).fetchall()
    return SearchPage([video_of(row) for row in rows], total)


def find_rendition(conn: psycopg.Connection, video_id: UUID, rendition_id: UUID) -> Rendition | None:
    row = conn.execute(
        f"SELECT {RENDITION_COLUMNS} FROM renditions WHERE video_id = %s AND id = %s",
        (video_id, rendition_id),
    ).fetchone()
    return None if row is None else rendition_of(row)


def published_rendition_exists(conn: psycopg.Connection, video_id: UUID, rendition_id: UUID) -> bool:
    row = conn.execute(
        """SELECT 1 FROM renditions r JOIN videos v ON v.id = r.video_id
           WHERE r.video_id = %s AND r.id = %s AND v.status = 'published'""",
        (video_id, rendition_id),
    ).fetchone()
    return row is not None


def video_of(row: dict[str, Any], renditions: list[Rendition] | None = None) -> Video:
    """A Video from a row of VIDEO_FIELDS."""
    fields = dict(row)
    title = Localized(fields.pop("title_en"), fields.pop("title_fr"))
    description = Localized(fields.pop("description_en"), fields.pop("description_fr"))
    fields["status"] = Status(fields["status"])
    return Video(**fields, title=title, description=description, renditions=renditions or [])


def rendition_of(row: Sequence[Any]) -> Rendition:
    """A Rendition from a row of RENDITION_FIELDS."""
    return Rendition(**dict(zip(RENDITION_FIELDS, row, strict=True)))


def _video_row(video: Video) -> dict[str, Any]:
    row = {
        key: value
        for key, value in video.__dict__.items()
        if key not in ("renditions", "title", "description")
    }
    return {
        **row,
        "status": str(video.status),
        "title_en": video.title.en,
        "title_fr": video.title.fr,
        "description_en": video.description.en,
        "description_fr": video.description.fr,
    }


def lock_video(conn: psycopg.Connection, video_id: UUID) -> Video | None:
    """The video with its renditions, its row locked until the caller's transaction ends."""
    if conn.execute("SELECT 1 FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone() is None:
        return None
    return find_video(conn, video_id)


def delete_video(conn: psycopg.Connection, video_id: UUID) -> None:
    """The video's row, its renditions' and its job's (ON DELETE CASCADE), and its upload's."""
    conn.execute("DELETE FROM uploads WHERE video_id = %s", (video_id,))
    conn.execute("DELETE FROM videos WHERE id = %s", (video_id,))


def set_status(
    conn: psycopg.Connection, video_id: UUID, status: Status, published_at: datetime | None
) -> None:
    conn.execute(
        "UPDATE videos SET status = %s, published_at = %s WHERE id = %s",
        (str(status), published_at, video_id),
    )


def next_revision(column: str) -> str:
    """SQL for the next value of one of a video's revision columns (video_revision, texts_revision):
    above the one before it, and never below the transaction's time in microseconds since 1970. So the
    numbers keep rising across a restore of the database, which takes the columns back while consumers
    keep the numbers they applied since: those issued after it exceed those issued before it as long as
    the clock moves forward. About 1.8e15 today, below 2^53: exact as a JavaScript number too."""
    return f"greatest({column} + 1, floor(extract(epoch FROM now()) * 1000000)::bigint)"


def count_event(conn: psycopg.Connection, video_id: UUID) -> int:
    """Number one more event about the video, in the caller's transaction (which holds or made its
    row): the event's video_revision, higher than any before it, a restore between them included."""
    row = conn.execute(
        f"UPDATE videos SET video_revision = {next_revision('video_revision')} WHERE id = %s"
        " RETURNING video_revision",
        (video_id,),
    ).fetchone()
    assert row is not None  # locked, or inserted, by the caller's transaction
    return int(row[0])


EDITABLE = (
    "title_en",
    "title_fr",
    "description_en",
    "description_fr",
    "published_at",
    "people",
    "location",
    "tags",
)


def update_metadata(
    conn: psycopg.Connection, video_id: UUID, changes: dict[str, Any], *, texts_changed: bool = False
) -> None:
    """Change some of the EDITABLE columns; with `texts_changed`, number a new revision of the texts."""
    names = [name for name in EDITABLE if name in changes]
    assignments = [f"{name} = %({name})s" for name in names]
    if texts_changed:
        assignments.append(f"texts_revision = {next_revision('texts_revision')}")
    if assignments:
        conn.execute(
            f"UPDATE videos SET {', '.join(assignments)} WHERE id = %(id)s", {**changes, "id": video_id}
        )


def file_digest(conn: psycopg.Connection, storage_key: str, size_bytes: int) -> str | None:
    """The remembered SHA-256 of the file at `storage_key`, if it was computed for this size."""
    row = conn.execute(
        "SELECT sha256 FROM file_digests WHERE storage_key = %s AND size_bytes = %s",
        (storage_key, size_bytes),
    ).fetchone()
    return None if row is None else str(row[0])


def remember_file_digest(conn: psycopg.Connection, storage_key: str, size_bytes: int, sha256: str) -> None:
    conn.execute(
        """INSERT INTO file_digests (storage_key, size_bytes, sha256) VALUES (%s, %s, %s)
           ON CONFLICT (storage_key)
           DO UPDATE SET size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256""",
        (storage_key, size_bytes, sha256),
    )


def rendition_with_title(conn: psycopg.Connection, rendition_id: UUID) -> tuple[Rendition, str] | None:
    """A rendition and its video's title (for the download's file name), English unless only French."""
    row = conn.execute(
        f"""SELECT {", ".join("r." + column for column in RENDITION_FIELDS)},
                   coalesce(nullif(v.title_en, ''), v.title_fr)
            FROM renditions r JOIN videos v ON v.id = r.video_id
            WHERE r.id = %s AND v.status = 'published'""",
        (rendition_id,),
    ).fetchone()
    return None if row is None else (rendition_of(row[:-1]), row[-1])
