"""The catalogue's SQL for transcoding jobs: claimed under a lease, so two workers never take one
and a dead worker's job is taken again; finished or failed with their video."""

from dataclasses import dataclass
from uuid import UUID

import psycopg

from catalogue.adapters.video_store import insert_renditions
from catalogue.domain.videos import Rendition


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


def extend_lease(conn: psycopg.Connection, job: Job, worker: str, lease_s: float) -> bool:
    """Extend the lease alone (the progress unchanged); False when the job is no longer this worker's."""
    row = conn.execute(
        """UPDATE transcode_jobs SET lease_expires_at = now() + make_interval(secs => %s)
           WHERE video_id = %s AND worker = %s AND finished_at IS NULL RETURNING 1""",
        (lease_s, job.video_id, worker),
    ).fetchone()
    return row is not None


def release_job(
    conn: psycopg.Connection, job: Job, worker: str, retry_after_s: float = 0, *, counted: bool = True
) -> None:
    """Give the job back: another worker may take it at once (the worker stops), or `retry_after_s`
    seconds from now (it failed for a reason that may pass). Not `counted`, the attempt is the job's
    no more: a worker that stops (a deployment) is no failure of the job's."""
    conn.execute(
        """UPDATE transcode_jobs
           SET lease_expires_at = CASE WHEN %(after)s > 0 THEN now() + make_interval(secs => %(after)s) END,
               worker = NULL, attempts = attempts - CASE WHEN %(counted)s THEN 0 ELSE 1 END
           WHERE video_id = %(video)s AND worker = %(worker)s AND finished_at IS NULL""",
        {"after": retry_after_s, "video": job.video_id, "worker": worker, "counted": counted},
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


def lock_job(conn: psycopg.Connection, video_id: UUID) -> None:
    """Lock the video's job, if it has one, before its video (the transcoder's order: no deadlock)."""
    conn.execute("SELECT 1 FROM transcode_jobs WHERE video_id = %s FOR UPDATE", (video_id,))


def requeue_job(conn: psycopg.Connection, video_id: UUID) -> None:
    """Queue the video's transcoding again, last in line, its attempts new; the video is processing."""
    conn.execute(
        """INSERT INTO transcode_jobs (video_id) VALUES (%s)
           ON CONFLICT (video_id) DO UPDATE SET created_at = now(), attempts = 0, worker = NULL,
               lease_expires_at = NULL, finished_at = NULL""",
        (video_id,),
    )
    conn.execute(
        "UPDATE videos SET status = 'processing', progress = 0, failure = NULL WHERE id = %s", (video_id,)
    )


def fail_job(conn: psycopg.Connection, video_id: UUID, reason: str) -> None:
    conn.execute("UPDATE videos SET status = 'failed', failure = %s WHERE id = %s", (reason[:1000], video_id))
    conn.execute("UPDATE transcode_jobs SET finished_at = now() WHERE video_id = %s", (video_id,))
