"""deploy/local/postgres.sh archives the WAL once `make backup` made backups/wal, wherever the
checkout is: its archive_command quotes the folder for postgresql.conf and for the shell."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.polling import wait_for
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SH = REPO / "deploy" / "local" / "postgres.sh"


@pytest.fixture
def cluster() -> Iterator[tuple[str, Path]]:
    """A private cluster of postgres.sh (own port) under a state folder with a space, a quote and a %:
    in the repository's state folder, which the cluster's OS user can reach. Its URL and archive."""
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
        yield f"postgresql://postgres@127.0.0.1:{port}/archived", archive
    finally:
        postgres_sh("reset")
        shutil.rmtree(state, ignore_errors=True)


def test_a_finished_segment_lands_in_the_archive_under_a_folder_with_spaces_and_quotes(cluster):
    url, archive = cluster
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE written AS SELECT 1 AS one")
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
        assert row is not None
        segment = row[0]
        conn.execute("SELECT pg_switch_wal()")

        def archiver_done() -> tuple[int, int] | None:
            counts = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
            assert counts is not None
            return counts if counts[0] or counts[1] else None

        archived, failed = wait_for(archiver_done, timeout=60, what="the archiver to copy or fail")
    assert failed == 0, "archive_command failed: see the cluster's postgres.log"
    assert (archive / segment).is_file()
