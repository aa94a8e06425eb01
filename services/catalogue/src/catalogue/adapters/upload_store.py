"""The catalogue's SQL for tus uploads: who made each, its length, the video it became."""

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

import psycopg


@dataclass(frozen=True)
class Upload:
    """A tus upload: who made it, how long it will be, its Upload-Metadata as sent, and (in a bucket)
    the S3 multipart upload holding its parts and their size."""

    id: UUID
    account_id: UUID
    length: int
    metadata: str
    video_id: UUID | None = None
    created_at: datetime | None = None
    multipart_upload_id: str | None = None
    part_bytes: int | None = None


COLUMNS = (
    "id, account_id, length, metadata, video_id, created_at, multipart_upload_id, part_bytes"  # Upload's
)


def insert_upload(conn: psycopg.Connection, upload: Upload) -> Upload:
    """The upload as stored, with its creation time (the database's clock, which expiry uses)."""
    row = conn.execute(
        """INSERT INTO uploads (id, account_id, length, metadata, multipart_upload_id, part_bytes)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING created_at""",
        (
            upload.id,
            upload.account_id,
            upload.length,
            upload.metadata,
            upload.multipart_upload_id,
            upload.part_bytes,
        ),  # fmt: skip
    ).fetchone()
    return replace(upload, created_at=row[0] if row else None)


def find_upload(conn: psycopg.Connection, upload_id: UUID, *, for_update: bool = False) -> Upload | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM uploads WHERE id = %s{lock}",
        (upload_id,),
    ).fetchone()
    return None if row is None else Upload(*row)


EXPIRY_BATCH = 1000


def delete_expired_uploads(
    conn: psycopg.Connection, max_age_s: float, limit: int = EXPIRY_BATCH
) -> list[Upload]:
    """Forget uploads older than `max_age_s` that no video was made of; their rows (their bytes go next)."""
    rows = conn.execute(
        # video_id again outside: a video made of it meanwhile (its row locked) is checked anew.
        f"""DELETE FROM uploads WHERE video_id IS NULL AND id IN (
               SELECT id FROM uploads WHERE video_id IS NULL
                  AND created_at < now() - make_interval(secs => %s) LIMIT %s)
           RETURNING {COLUMNS}""",
        (max_age_s, limit),
    ).fetchall()
    return [Upload(*row) for row in rows]


def delete_upload(conn: psycopg.Connection, upload_id: UUID) -> bool:
    """Forget an upload no video was made of; whether there was one (one made into a video stays)."""
    deleted = conn.execute("DELETE FROM uploads WHERE id = %s AND video_id IS NULL", (upload_id,))
    return deleted.rowcount == 1


def attach_upload(conn: psycopg.Connection, upload_id: UUID, video_id: UUID) -> None:
    conn.execute("UPDATE uploads SET video_id = %s WHERE id = %s", (video_id, upload_id))
