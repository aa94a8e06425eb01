"""The catalogue's SQL: videos and renditions, full-text search, download grants."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from catalogue.domain.videos import Localized, Rendition, SearchQuery, Status, Video

VIDEO_FIELDS = (
    "id title_en title_fr description_en description_fr published_at duration_s people location tags "
    "thumbnail_key status progress failure poster_key preview_key master_key"
).split()
VIDEO_COLUMNS = ", ".join(f"v.{name}" for name in VIDEO_FIELDS)
RENDITION_FIELDS = tuple(
    "id label container codec width height bitrate size_bytes checksum storage_key".split()
)
RENDITION_COLUMNS = ", ".join(RENDITION_FIELDS)
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
COUNT_MATCHES = f"""
    SELECT (SELECT count(*) {MATCHES}) AS total,
           (SELECT count(*) {MATCHES} AND {IN_TITLE}) AS title_total"""
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
    """The video with its renditions; None when there is no such video."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(f"SELECT {VIDEO_COLUMNS} FROM videos v WHERE v.id = %s", (video_id,)).fetchone()
        if row is None:
            return None
        renditions = cursor.execute(
            f"SELECT {RENDITION_COLUMNS} FROM renditions WHERE video_id = %s ORDER BY position", (video_id,)
        ).fetchall()
    return video_of(row, [Rendition(**rendition) for rendition in renditions])


def search_videos(conn: psycopg.Connection, query: SearchQuery) -> SearchPage:
    """One page of videos (without renditions) matching the query, and how many match in all."""
    params: dict[str, Any] = {
        "text": query.text,
        "from": query.published_from,
        "before": query.published_before,
        "tag": query.tag,
        "everything": query.everything,
        "limit": query.per_page,
        "offset": query.offset,
    }
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:
        if query.text.strip():
            return _search(cursor, query, params)
        count = cursor.execute(COUNT_ALL, params).fetchone()
        rows = cursor.execute(BROWSE, params).fetchall()
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
    return None if row is None else Rendition(*row)


def published_rendition_exists(conn: psycopg.Connection, video_id: UUID, rendition_id: UUID) -> bool:
    row = conn.execute(
        """SELECT 1 FROM renditions r JOIN videos v ON v.id = r.video_id
           WHERE r.video_id = %s AND r.id = %s AND v.status = 'published'""",
        (video_id, rendition_id),
    ).fetchone()
    return row is not None


def rendition_with_title(conn: psycopg.Connection, rendition_id: UUID) -> tuple[Rendition, str] | None:
    """A rendition and its video's title (for the download's file name), English unless only French."""
    row = conn.execute(
        f"""SELECT {", ".join("r." + column for column in RENDITION_FIELDS)},
                   coalesce(nullif(v.title_en, ''), v.title_fr)
            FROM renditions r JOIN videos v ON v.id = r.video_id
            WHERE r.id = %s AND v.status = 'published'""",
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


def video_of(row: dict[str, Any], renditions: list[Rendition] | None = None) -> Video:
    """A Video from a row of VIDEO_FIELDS."""
    fields = dict(row)
    title = Localized(fields.pop("title_en"), fields.pop("title_fr"))
    description = Localized(fields.pop("description_en"), fields.pop("description_fr"))
    fields["status"] = Status(fields["status"])
    return Video(**fields, title=title, description=description, renditions=renditions or [])


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


@dataclass(frozen=True)
class Upload:
    """A tus upload: who made it, how long it will be, its Upload-Metadata as sent."""

    id: UUID
    account_id: UUID
    length: int
    metadata: str
    video_id: UUID | None = None
    created_at: datetime | None = None


def insert_upload(conn: psycopg.Connection, upload: Upload) -> Upload:
    """The upload as stored, with its creation time (the database's clock, which expiry uses)."""
    row = conn.execute(
        """INSERT INTO uploads (id, account_id, length, metadata) VALUES (%s, %s, %s, %s)
           RETURNING created_at""",
        (upload.id, upload.account_id, upload.length, upload.metadata),
    ).fetchone()
    return replace(upload, created_at=row[0] if row else None)


def find_upload(conn: psycopg.Connection, upload_id: UUID, *, for_update: bool = False) -> Upload | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT id, account_id, length, metadata, video_id, created_at FROM uploads WHERE id = %s{lock}",
        (upload_id,),
    ).fetchone()
    return None if row is None else Upload(*row)


EXPIRY_BATCH = 1000


def delete_expired_uploads(
    conn: psycopg.Connection, max_age_s: float, limit: int = EXPIRY_BATCH
) -> list[UUID]:
    """Forget uploads older than `max_age_s` that no video was made of; their ids (their bytes go next)."""
    rows = conn.execute(
        # video_id again outside: a video made of it meanwhile (its row locked) is checked anew.
        """DELETE FROM uploads WHERE video_id IS NULL AND id IN (
               SELECT id FROM uploads WHERE video_id IS NULL
                  AND created_at < now() - make_interval(secs => %s) LIMIT %s)
           RETURNING id""",
        (max_age_s, limit),
    ).fetchall()
    return [row[0] for row in rows]


def delete_upload(conn: psycopg.Connection, upload_id: UUID) -> None:
    conn.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))


def attach_upload(conn: psycopg.Connection, upload_id: UUID, video_id: UUID) -> None:
    conn.execute("UPDATE uploads SET video_id = %s WHERE id = %s", (video_id, upload_id))


def lock_video(conn: psycopg.Connection, video_id: UUID) -> Video | None:
    """The video with its renditions, its row locked until the caller's transaction ends."""
    if conn.execute("SELECT 1 FROM videos WHERE id = %s FOR UPDATE", (video_id,)).fetchone() is None:
        return None
    return find_video(conn, video_id)


def set_status(
    conn: psycopg.Connection, video_id: UUID, status: Status, published_at: datetime | None
) -> None:
    conn.execute(
        "UPDATE videos SET status = %s, published_at = %s WHERE id = %s",
        (str(status), published_at, video_id),
    )


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


def update_metadata(conn: psycopg.Connection, video_id: UUID, changes: dict[str, Any]) -> None:
    """Change some of the EDITABLE columns."""
    names = [name for name in EDITABLE if name in changes]
    if names:
        assignments = ", ".join(f"{name} = %({name})s" for name in names)
        conn.execute(f"UPDATE videos SET {assignments} WHERE id = %(id)s", {**changes, "id": video_id})


def insert_job(conn: psycopg.Connection, video_id: UUID) -> None:
    conn.execute("INSERT INTO transcode_jobs (video_id) VALUES (%s)", (video_id,))


@dataclass(frozen=True)
class Job:
    """A transcoding job a worker holds: the video and how many times it was taken."""

    video_id: UUID
    attempts: int
    master_key: str


def claim_job(conn: psycopg.Connection, worker: str, lease_s: int) -> Job | None:
    """Take the oldest job nobody holds (or whose holder's lease ran out) for `lease_s` seconds."""
    row = conn.execute(
        """WITH next AS (
               SELECT video_id FROM transcode_jobs
               WHERE finished_at IS NULL AND (lease_expires_at IS NULL OR lease_expires_at < now())
               ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           UPDATE transcode_jobs j
           SET worker = %s, lease_expires_at = now() + make_interval(secs => %s), attempts = j.attempts + 1
           FROM next, videos v WHERE j.video_id = next.video_id AND v.id = j.video_id
           RETURNING j.video_id, j.attempts, v.master_key""",
        (worker, lease_s),
    ).fetchone()
    return None if row is None else Job(*row)


def renew_lease(conn: psycopg.Connection, job: Job, worker: str, lease_s: int, progress: int) -> bool:
    """Extend the lease and record the progress; False when the job is no longer this worker's."""
    row = conn.execute(
        """WITH held AS (
               UPDATE transcode_jobs SET lease_expires_at = now() + make_interval(secs => %s)
               WHERE video_id = %s AND worker = %s AND finished_at IS NULL RETURNING video_id)
           UPDATE videos SET progress = %s WHERE id = (SELECT video_id FROM held) RETURNING 1""",
        (lease_s, job.video_id, worker, progress),
    ).fetchone()
    return row is not None


def release_job(conn: psycopg.Connection, job: Job, worker: str) -> None:
    """Give the job back at once (the worker stops): another worker may take it now."""
    conn.execute(
        """UPDATE transcode_jobs SET lease_expires_at = NULL, worker = NULL
           WHERE video_id = %s AND worker = %s AND finished_at IS NULL""",
        (job.video_id, worker),
    )


def hold_job(conn: psycopg.Connection, job: Job, worker: str) -> bool:
    """Lock the job for the finishing transaction; False when it is no longer this worker's."""
    row = conn.execute(
        """SELECT 1 FROM transcode_jobs WHERE video_id = %s AND worker = %s AND finished_at IS NULL
           FOR UPDATE""",
        (job.video_id, worker),
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class Transcoded:
    """What a finished job adds to its video."""

    duration_s: float
    renditions: list[Rendition]
    poster_key: str
    thumbnail_key: str
    preview_key: str


def finish_job(conn: psycopg.Connection, job: Job, done: Transcoded) -> None:
    """The video becomes ready with its renditions, all at once (in the caller's transaction)."""
    conn.execute("DELETE FROM renditions WHERE video_id = %s", (job.video_id,))
    insert_renditions(conn, job.video_id, done.renditions)
    conn.execute(
        """UPDATE videos SET status = 'ready', progress = 100, failure = NULL, duration_s = %s,
                             poster_key = %s, thumbnail_key = %s, preview_key = %s
           WHERE id = %s""",
        (done.duration_s, done.poster_key, done.thumbnail_key, done.preview_key, job.video_id),
    )
    conn.execute("UPDATE transcode_jobs SET finished_at = now() WHERE video_id = %s", (job.video_id,))


def fail_job(conn: psycopg.Connection, video_id: UUID, reason: str) -> None:
    conn.execute("UPDATE videos SET status = 'failed', failure = %s WHERE id = %s", (reason[:1000], video_id))
    conn.execute("UPDATE transcode_jobs SET finished_at = now() WHERE video_id = %s", (video_id,))


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
