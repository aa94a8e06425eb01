"""Helpers for tests and benchmarks of `catalogue web` as a process: a granted link to a stored file,
the memory of its gunicorn worker, and small real videos to publish."""

import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from catalogue.adapters import grant_store, video_store
from catalogue.adapters.grant_store import Grant
from catalogue.domain import links
from catalogue.domain.videos import Encoding, Localized, Video


def granted_link(
    database_url: str, storage_key: str, size: int, link_key: str, checksum: str = "0" * 64
) -> str:
    """Register a video whose one rendition is the stored file, grant it, and sign the link (path?query)."""
    encoding = Encoding("Broadcast MXF", "mxf", "mpeg2video", 1920, 1080, 50_000_000)
    rendition = encoding.rendition(uuid.uuid4(), size, checksum, storage_key)
    video = Video(
        uuid.uuid4(),
        Localized("Big file"),
        Localized(),
        datetime.now(UTC),
        600,
        [],
        "",
        [],
        None,
        [rendition],
    )
    grant = Grant(uuid.uuid4(), rendition.id, datetime.now(UTC) + timedelta(minutes=10))
    with psycopg.connect(database_url, autocommit=True) as conn:
        video_store.insert_video(conn, video)
        grant_store.insert_grant(conn, grant, uuid.uuid4())
    claims = links.LinkClaims(grant.id, rendition.id, int(grant.expires_at.timestamp()))
    query = {"rendition": rendition.id, "expires": claims.expires,
             "signature": links.sign(link_key.encode(), claims)}  # fmt: skip
    return f"/v1/downloads/{grant.id}?{urllib.parse.urlencode(query)}"


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers (children) of a master process."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def small_video(path: Path, size: str = "1280x720", seconds: float = 1.0) -> Path:
    """A small real video: ffmpeg's test pattern with a tone, H.264/AAC in MP4."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return path


@contextmanager
def videos_cannot_be_recorded(database_url: str) -> Iterator[None]:
    """While the context lasts, PostgreSQL refuses every new transcoding job (a trigger): a submission's
    transaction fails after its master was stored."""
    name = f"refuse_jobs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'test: no new transcoding job'; END $$;
                CREATE TRIGGER {name} BEFORE INSERT ON transcode_jobs
                FOR EACH ROW EXECUTE FUNCTION {name}()"""
        )
        try:
            yield
        finally:
            conn.execute(f"DROP TRIGGER {name} ON transcode_jobs; DROP FUNCTION {name}()")
