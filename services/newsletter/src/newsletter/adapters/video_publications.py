"""The newsletter's SQL for the newest publication or withdrawal of each of the catalogue's videos it
followed: that event's video_revision (migration 008)."""

from uuid import UUID

import psycopg


def locked(conn: psycopg.Connection, video_id: UUID) -> int | None:
    """The video_revision of the newest publication or withdrawal followed for the video (None when
    none numbered was), its row locked until the transaction ends: made first if need be, so that two
    transactions following the same video's events wait for each other even before it has one."""
    conn.execute("INSERT INTO video_publications (video_id) VALUES (%s) ON CONFLICT DO NOTHING", (video_id,))
    row = conn.execute(
        "SELECT video_revision FROM video_publications WHERE video_id = %s FOR UPDATE", (video_id,)
    ).fetchone()
    assert row is not None  # made above, or by a transaction that committed it
    return None if row[0] is None else int(row[0])


def keep(conn: psycopg.Connection, video_id: UUID, video_revision: int) -> None:
    """Record that the video's publication or withdrawal numbered `video_revision` was followed (its row
    locked by `locked`)."""
    conn.execute(
        "UPDATE video_publications SET video_revision = %s WHERE video_id = %s", (video_revision, video_id)
    )
