"""Backups of the local PostgreSQL cluster: a base backup plus the archived WAL, and the drill.

    python deploy/local/backup.py backup            (make backup)
    python deploy/local/backup.py restore [--force] [BASE]
                                                    (make restore: the newest base backup by default;
                                                    refused while sessions are connected, unless forced)
    python deploy/local/backup.py drill             (make backup-drill: a private cluster, never make run's)

pg_basebackup and WAL archiving (archive_command copying each finished segment, archive_timeout
closing a quiet one) rather than pgBackRest: both ship with the PostgreSQL server already
installed, there is no repository or stanza to configure, and a restore is a copy plus a
restore_command. pgBackRest earns its place with parallel, incremental and remote backups.

The backups of `make run`'s cluster live in <postgres state>/backups (base/ and wal/): copy them
off the machine, a backup on the data's own disk dies with it. deploy/local/postgres.sh turns WAL
archiving on (at the cluster's next start) once backups/wal exists, which `backup` creates.
"""

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from accounts_common.db import COMMON_MIGRATIONS, migrate
from accounts_testkit.ports import free_port
from identity.migrations import IDENTITY_MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
POSTGRES_SH = REPO / "deploy" / "local" / "postgres.sh"
KEEP_BASE_BACKUPS = 2
DRILL_SEGMENT_MB = 1  # small WAL segments: archive_timeout switches cost a megabyte, not sixteen
DRILL_ARCHIVE_TIMEOUT_S = 2
DRILL_WRITE_S = 8.0


def run_as_postgres(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the cluster's OS user (initdb and postgres refuse root)."""
    command = [str(arg) for arg in argv]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise SystemExit("backup: no PostgreSQL server binaries under /usr/lib/postgresql (make infra-up)")
    return found[-1].parent


def owned_by_postgres(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def shell_path(path: Path) -> str:
    """`path` as one word of an archive or restore command: quoted for the shell PostgreSQL runs it
    with (a state folder may hold spaces), its % doubled (PostgreSQL's own escape)."""
    return shlex.quote(str(path)).replace("%", "%%")


def conf_string(value: str) -> str:
    """`value` as a postgresql.conf string, where ' is doubled and \\ escapes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def archive_command(archive: Path) -> str:
    """Copy a finished segment under a temporary name, then rename: a half-copied file never counts."""
    folder = shell_path(archive)
    return f"test ! -f {folder}/%f && cp %p {folder}/%f.part && mv {folder}/%f.part {folder}/%f"


def base_backup(port: int, target: Path) -> None:
    """A self-contained copy of the cluster (its WAL streamed alongside), checkpointing at once."""
    run_as_postgres(
        bindir() / "pg_basebackup", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
        "-D", target, "-Fp", "-X", "stream", "-c", "fast",
    )  # fmt: skip


def restore_into(base: Path, data: Path, archive: Path | None) -> None:
    """Put `base` in place as `data`, set to replay every archived segment before it opens."""
    run_as_postgres("cp", "-a", base, data)
    for leftover in ("postmaster.pid", "postmaster.opts"):
        (data / leftover).unlink(missing_ok=True)
    if archive is not None:
        restore_command = conf_string(f"cp {shell_path(archive)}/%f %p")
        settings = f"restore_command = {restore_command}\nrecovery_target_timeline = 'latest'\n"
        run_as_postgres("tee", "-a", data / "postgresql.auto.conf", input=settings, stdout=subprocess.DEVNULL)
        run_as_postgres("touch", data / "recovery.signal")


def wait_promoted(url: str, timeout: float = 300.0) -> None:
    """Until the server accepts connections and has left recovery (replayed all it could find)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"backup: the restored server did not open within {timeout:.0f} s")
        time.sleep(0.1)


def last_archived(archive: Path) -> str | None:
    segments = sorted(p.name for p in archive.iterdir() if len(p.name) == 24 and p.name.isalnum())
    return segments[-1] if segments else None


def segment_end_lsn(name: str, segment_bytes: int) -> int:
    """The LSN just past segment `name` (timeline, log, segment: 8 hex digits each)."""
    log, segment = int(name[8:16], 16), int(name[16:24], 16)
    return log * 0x1_0000_0000 + (segment + 1) * segment_bytes


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)


# --- make backup / make restore: the cluster of make run -----------------------------------------


def postgres_sh(*args: str) -> str:
    return subprocess.run(
        ["bash", str(POSTGRES_SH), *args], check=True, text=True, capture_output=True
    ).stdout


def local_cluster() -> tuple[Path, int]:
    """The data folder and port of deploy/local/postgres.sh's running cluster."""
    try:
        status = postgres_sh("status")  # "running on 127.0.0.1:PORT (data DIR)"
    except subprocess.CalledProcessError:
        raise SystemExit("backup: the local PostgreSQL is not running (make infra-up)") from None
    port = int(status.split("127.0.0.1:")[1].split()[0])
    # The folder ends at the line's last parenthesis: its path may hold some of its own.
    data = Path(status.split("(data ", 1)[1].rstrip().removesuffix(")"))
    return data, port


def backup() -> None:
    data, port = local_cluster()
    root = owned_by_postgres(data.parent / "backups")
    wal, bases = owned_by_postgres(root / "wal"), owned_by_postgres(root / "base")
    target = bases / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    base_backup(port, target)
    print(f"backup: base backup {target} in {time.monotonic() - started:.1f} s")
    for old in sorted(bases.iterdir())[:-KEEP_BASE_BACKUPS]:
        shutil.rmtree(old)
        print(f"backup: removed the older base backup {old}")
    prune_archive(wal, min(bases.iterdir()))
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres") as conn:
        mode = conn.execute("SHOW archive_mode").fetchone()
        failing = conn.execute(
            """SELECT last_failed_wal FROM pg_stat_archiver WHERE last_failed_time IS NOT NULL
               AND (last_archived_time IS NULL OR last_failed_time > last_archived_time)"""
        ).fetchone()
    if mode and mode[0] == "on" and failing:
        raise SystemExit(
            f"backup: WAL archiving fails (segment {failing[0]} not copied to {wal}; the cluster's"
            " postgres.log says why): restores stop at the last archived segment until it is fixed"
        )
    if mode and mode[0] == "on":
        print(f"backup: WAL archived to {wal}: restores reach the last archived segment")
    else:
        print(
            "backup: WAL archiving is off until the cluster's next start (make infra-down, make infra-up):"
            " until then a restore returns this base backup's moment"
        )


def prune_archive(archive: Path, oldest_base: Path) -> None:
    """Drop the archived segments the oldest base backup kept no longer needs."""
    label = (oldest_base / "backup_label").read_text()
    first_segment = label.split("(file ")[1].split(")")[0]
    run_as_postgres(bindir() / "pg_archivecleanup", archive, first_segment)


def connected(port: int) -> list[str]:
    """The client sessions connected to the cluster on `port`, but this one: "database: application
    from address (pid N)", one each."""
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(url, application_name="restore") as conn:
        rows = conn.execute(
            """SELECT datname, coalesce(nullif(application_name, ''), 'a client without a name'),
                      coalesce(host(client_addr), 'the local socket'), pid
               FROM pg_stat_activity
               WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
               ORDER BY datname, application_name, pid"""
        ).fetchall()
    return [f"{name}: {application} from {address} (pid {pid})" for name, application, address, pid in rows]


def refuse_while_connected(port: int) -> None:
    """Stop before anything is changed while sessions are connected: the restore would cut them off
    mid-write, and what a service wrote after the restore point would be lost without it knowing."""
    sessions = connected(port)
    if sessions:
        raise SystemExit(
            f"restore: refused, {len(sessions)} session{'s' if len(sessions) > 1 else ''} connected to the"
            " cluster it restores:\n  " + "\n  ".join(sessions) + "\n"
            "stop them first (make run: Ctrl-C; else every service process: web, relays, workers; a"
            " session's process: pg_terminate_backend(pid) ends it), or restore anyway, cutting them off:"
            " make restore FORCE=1"
        )


def restore(name: str | None, force: bool = False) -> None:
    data, port = local_cluster()
    bases = data.parent / "backups" / "base"
    # Only a folder pg_basebackup wrote, by its name: BASE=.. must not restore the backups folder.
    candidates = sorted(p for p in bases.glob("*") if (p / "backup_label").is_file())
    chosen = [c for c in candidates if c.name == name] if name else candidates[-1:]
    base = chosen[0] if chosen else None
    if base is None:
        known = ", ".join(c.name for c in candidates) or "none yet (make backup)"
        raise SystemExit(f"restore: no base backup {name or ''} in {bases}; there: {known}")
    if not force:
        refuse_while_connected(port)
    archive = data.parent / "backups" / "wal"
    started = time.monotonic()
    postgres_sh("stop")
    aside = data.with_name(f"data.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    data.rename(aside)
    restore_into(base, data, archive if archive.is_dir() else None)
    postgres_sh("start")
    wait_promoted(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    print(f"restore: {base.name} plus the archived WAL in place after {time.monotonic() - started:.1f} s")
    print(f"restore: the data it replaced is kept in {aside} (delete it when satisfied)")


# --- make backup-drill: a private cluster -------------------------------------------------------


@dataclass
class Drill:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def archive(self) -> Path:
        return self.root / "wal"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str) -> None:
        run_as_postgres(bindir() / "pg_ctl", "-D", self.data, "-l", self.root / "postgres.log", *args,
                        stdout=subprocess.DEVNULL)  # fmt: skip

    def create(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        owned_by_postgres(self.root)
        owned_by_postgres(self.archive)
        run_as_postgres(
            bindir() / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
            f"--wal-segsize={DRILL_SEGMENT_MB}", stdout=subprocess.DEVNULL,
        )  # fmt: skip
        settings = (
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
            f"archive_mode = on\narchive_command = {conf_string(archive_command(self.archive))}\n"
            f"archive_timeout = {DRILL_ARCHIVE_TIMEOUT_S}\n"
        )
        run_as_postgres("tee", "-a", self.data / "postgresql.conf", input=settings, stdout=subprocess.DEVNULL)
        self.pg_ctl("start", "-w")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE identity")
        migrate(self.url("identity"), COMMON_MIGRATIONS, IDENTITY_MIGRATIONS)


def write_accounts(url: str, seconds: float) -> dict[str, tuple[int, float]]:
    """Sign accounts up one transaction at a time; each id with an LSN past its commit, and when."""
    written: dict[str, tuple[int, float]] = {}
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            account = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO accounts (id, email, password_hash) VALUES (%s, %s, 'drill')",
                (account, f"drill-{account}@example.org"),
            )
            lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
            assert lsn is not None
            written[account] = (parse_lsn(lsn[0]), time.time())
    return written


def drill() -> int:
    port = free_port()
    private = Drill(Path(os.environ.get("STATE_DIR", REPO / ".state")) / f"backup-drill-{port}", port)
    print(f"drill: private cluster in {private.root} on port {private.port}")
    try:
        private.create()
        base_backup(private.port, private.root / "base")
        written = write_accounts(private.url("identity"), DRILL_WRITE_S)
        private.pg_ctl("stop", "-m", "immediate")  # the disk is gone: nothing more is archived
        destroyed = time.time()
        shutil.rmtree(private.data)
        last = last_archived(private.archive)
        started = time.monotonic()
        restore_into(private.root / "base", private.data, private.archive)
        private.pg_ctl("start", "-w", "-t", "300")
        wait_promoted(private.url())
        rto = time.monotonic() - started
        with psycopg.connect(private.url("identity")) as conn:
            back = {str(row[0]) for row in conn.execute("SELECT id FROM accounts")}
        failed = report(written, back, last, destroyed, rto)
    except BaseException:
        print(f"drill: kept {private.root} for a look (its log: postgres.log)")
        raise
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            private.pg_ctl("stop", "-m", "fast")
    if not failed:
        shutil.rmtree(private.root)
    return failed


def report(
    written: dict[str, tuple[int, float]], back: set[str], last: str | None, destroyed: float, rto: float
) -> int:
    """Print what came back; 1 when an account committed before the last archived segment's end is missing."""
    archived_end = segment_end_lsn(last, DRILL_SEGMENT_MB * 1024 * 1024) if last else 0
    covered = {account for account, (lsn, _) in written.items() if lsn <= archived_end}
    lost = covered - back
    last_write = max(at for _, at in written.values())
    last_back = max((at for account, (_, at) in written.items() if account in back), default=destroyed)
    print(f"drill: written {len(written)}, archived before the loss {len(covered)}, came back {len(back)}")
    print(f"drill: last archived segment {last}; archive_timeout {DRILL_ARCHIVE_TIMEOUT_S} s")
    print(f"drill: lost {len(lost)} (committed before the last archived segment's end and missing)")
    print(f"drill: not archived yet when the disk went, gone as expected: {len(written) - len(back)}")
    print(f"drill: RPO {last_write - last_back:.1f} s (the newest write missing to the newest restored)")
    print(f"drill: RTO {rto:.1f} s (base backup copied, WAL replayed, server open)")
    return 1 if lost or not back else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backup", help="a base backup of make run's cluster (WAL archived continuously)")
    restore_parser = commands.add_parser("restore", help="make run's cluster back from a base backup and WAL")
    restore_parser.add_argument("base", nargs="?", help="a folder name under backups/base (default: newest)")
    restore_parser.add_argument(
        "--force", action="store_true", help="restore even while sessions are connected (they are cut off)"
    )
    commands.add_parser("drill", help="backup, writes, loss and restore of a private cluster; exit 1 on loss")
    args = parser.parse_args(argv)
    if args.command == "backup":
        backup()
    elif args.command == "restore":
        restore(args.base, force=args.force)
    else:
        sys.exit(drill())


if __name__ == "__main__":
    main()
