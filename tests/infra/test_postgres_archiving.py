"""deploy/local/postgres.sh archives the WAL once `make backup` made backups/wal, wherever the
checkout is: its archive_command quotes the folder for postgresql.conf and for the shell. And
`make backup` says so when that archiving fails."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.polling import wait_for
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SH = REPO / "deploy" / "local" / "postgres.sh"
BACKUP_PY = REPO / "deploy" / "local" / "backup.py"


@dataclass(frozen=True)
class Cluster:
    url: str
    archive: Path
    environment: dict[str, str]  # the one its postgres.sh runs with (make backup's too)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A private cluster of postgres.sh (own port) under a state folder with a space, a quote and a %:
    in the repository's state folder, which the cluster's OS user can reach."""
    port = free_port()
    state = REPO / ".state" / f"archiving's 100% test {port}"
    archive = state / "postgres" / "backups" / "wal"
    archive.mkdir(parents=True)  # as `make backup` leaves it
    environment = {
        **os.environ,
        "STATE_DIR": str(state),
        "POSTGRES_PORT": str(port),
        "POSTGRES_DATABASES": "archived",
    }

    def postgres_sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(POSTGRES_SH), command], env=environment, capture_output=True, text=True, timeout=120
        )

    try:
        started = postgres_sh("start")
        assert started.returncode == 0, started.stdout + started.stderr
        yield Cluster(f"postgresql://postgres@127.0.0.1:{port}/archived", archive, environment)
    finally:
        postgres_sh("reset")
        shutil.rmtree(state, ignore_errors=True)


def switch_segment(conn: psycopg.Connection) -> tuple[str, tuple[int, int]]:
    """Write, close the current segment; its name and the archiver's (archived, failed) counts once it
    has copied or failed."""
    conn.execute("CREATE TABLE IF NOT EXISTS written AS SELECT 1 AS one")
    row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert row is not None
    conn.execute("SELECT pg_switch_wal()")

    def archiver_done() -> tuple[int, int] | None:
        counts = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
        assert counts is not None
        return counts if counts[0] or counts[1] else None

    return row[0], wait_for(archiver_done, timeout=60, what="the archiver to copy or fail")


def test_a_finished_segment_lands_in_the_archive_under_a_folder_with_spaces_and_quotes(cluster):
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        segment, (_, failed) = switch_segment(conn)
    assert failed == 0, "archive_command failed: see the cluster's postgres.log"
    assert (cluster.archive / segment).is_file()


def test_make_backup_fails_saying_so_while_the_archiving_fails(cluster):
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
        assert row is not None
        (cluster.archive / row[0]).write_text("another cluster's")  # never overwritten: the copy fails
        segment, (archived, _) = switch_segment(conn)
    assert (segment, archived) == (row[0], 0)

    result = subprocess.run(
        [sys.executable, str(BACKUP_PY), "backup"],
        env=cluster.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"backup: WAL archiving fails (segment {segment} not copied" in result.stderr
