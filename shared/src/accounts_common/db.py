"""PostgreSQL: connection pools and the numbered-SQL migration runner."""

import logging
import re
import select
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common.config import ServiceSettings

log = logging.getLogger(__name__)

MIGRATION_FILE = re.compile(r"^(\d{3,})_[\w-]+\.sql\Z")
MIGRATION_LOCK_KEY = 0x6D6D6163  # any constant: serialises migrators started at the same time
RECORD = "schema_migrations (the record of the migrations applied)"
# How long a caller waits for a pool's connection (PoolTimeout after): with the database down, a
# request answers 503 and a stopping process gets past its checkout in seconds.
POOL_WAIT_S = 5.0


@dataclass(frozen=True)
class SessionTimeouts:
    """How long each statement of a session may wait for a lock and run, in milliseconds (0: no
    limit); past either, PostgreSQL cancels it (LockNotAvailable, QueryCanceled)."""

    lock_ms: int
    statement_ms: int

    def apply(self, conn: psycopg.Connection) -> None:
        """Set them on the session (the pool's `configure`, once per new connection)."""
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
            (f"{self.lock_ms}ms", f"{self.statement_ms}ms"),
        )


def create_pool(
    url: str,
    *,
    name: str,
    min_size: int = 1,
    max_size: int = 10,
    timeout_s: float = POOL_WAIT_S,
    timeouts: SessionTimeouts | None = None,
) -> ConnectionPool:
    """A pool that opens lazily; call it after the process forks, never at import.

    A caller waits at most `timeout_s` for a connection (PoolTimeout after): with the database down,
    a request answers 503 in seconds rather than hanging. Its sessions have `timeouts` when given,
    else the server's (none by default).
    """
    return ConnectionPool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        open=True,
        kwargs={"autocommit": True},
        configure=timeouts.apply if timeouts else None,
        check=check_when_readable,
    )


def request_pool(settings: ServiceSettings, *, name: str, max_size: int = 10) -> ConnectionPool:
    """The pool of a web process: each statement waits for a lock at most the settings'
    request_lock_timeout_ms and runs at most request_statement_timeout_ms, and one cut off answers 503
    with Retry-After (problems.py). Only web requests: workers, relays, migrations and chores keep
    the server's timeouts (docs/operating/processes.md says why)."""
    timeouts = SessionTimeouts(settings.request_lock_timeout_ms, settings.request_statement_timeout_ms)
    return create_pool(settings.database_url, name=name, max_size=max_size, timeouts=timeouts)


def check_when_readable(conn: psycopg.Connection) -> None:
    """The pool's check at checkout, with a round trip only when the connection has something to read.

    An idle connection has nothing to read; one the server ended (a restart, a crash, a terminated
    backend) reads as end of file or a last error message. Only then is a query sent, which fails and
    makes the pool take another connection, so a healthy one costs no round trip per checkout.
    poll(), not select(): select() refuses a descriptor past FD_SETSIZE (1024), and every checkout
    of a process with that many files open would fail.
    """
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


@contextmanager
def one_moment(conn: psycopg.Connection, *, inserts: bool = False) -> Iterator[None]:
    """A read-only transaction whose statements all see the database at one moment.

    Under READ COMMITTED (the default) each statement takes its own snapshot: a count and the page it
    counts, or a row and its tallies, read in two statements may straddle another transaction's commit
    and answer a combination that never existed. REPEATABLE READ gives the whole transaction the
    snapshot of its first statement; read-only, it never fails to serialise. With `inserts`, it may
    also insert rows (an audit record of the read); only an UPDATE, DELETE or lock of a row another
    transaction changed meanwhile fails to serialise, so it must do none. It must begin the
    transaction: on a connection already in one, SET TRANSACTION fails."""
    with conn.transaction():
        mode = "" if inserts else ", READ ONLY"
        conn.execute(f"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ{mode}")
        yield


def database_reachable(pool: ConnectionPool) -> bool:
    """True when a connection from the pool answers a query within a second."""
    try:
        with pool.connection(timeout=1.0) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
        return False


@dataclass(frozen=True)
class MigrationSet:
    """The numbered .sql files of one component, applied in order and recorded under its name."""

    component: str
    package: str
    folder: str = "migrations"

    def scripts(self) -> list[tuple[int, str, Traversable]]:
        """(version, file name, file) for every migration file, sorted by version."""
        found = []
        for entry in files(self.package).joinpath(self.folder).iterdir():
            match = MIGRATION_FILE.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry.name, entry))
        versions = [version for version, _, _ in found]
        if twice := sorted({version for version in versions if versions.count(version) > 1}):
            # Two branches that each added "the next" migration: one would silently never run.
            raise ValueError(f"{self.component}: more than one migration numbered {twice}")
        return sorted(found)


COMMON_MIGRATIONS = MigrationSet("accounts_common", "accounts_common")


def migrations_recorded(pool: ConnectionPool, sets: Sequence[MigrationSet]) -> Callable[[], bool]:
    """A readiness check: true once schema_migrations records every migration of `sets` (this
    code's). A web process started before `<service> migrate` has run (the migration Job of a k8s
    deploy runs beside the rollout) stays out of its Service until then, rather than answering 500s
    over tables it cannot find. Once true it stays true, with no query: migrations are not undone."""
    wanted = {(each.component, version) for each in sets for version, _, _ in each.scripts()}
    recorded = False

    def check() -> bool:
        nonlocal recorded
        if not recorded:
            try:
                with pool.connection(timeout=1.0) as conn:
                    rows = conn.execute("SELECT component, version FROM schema_migrations").fetchall()
            except Exception:  # noqa: BLE001 - readiness reports any failure (no record yet) as "not ready"
                return False
            recorded = wanted <= {(component, version) for component, version in rows}
        return recorded

    return check


class MigrationRefused(Exception):
    """The database refused the role running the migrations a privilege one needs (SQLSTATE 42501:
    no CREATE on the schema, not the owner of a table it alters)."""


@contextmanager
def refusals_named(step: str) -> Iterator[None]:
    """Turn a privilege the database refuses during `step` into MigrationRefused naming the step."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as error:
        said = error.diag.message_primary or str(error).splitlines()[0]
        raise MigrationRefused(f"{step}: {said} (SQLSTATE {error.sqlstate})") from None


def migrate(url: str, *sets: MigrationSet) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the names applied.
    MigrationRefused names the step the database refused to the role (the record, or a migration)."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        with refusals_named(RECORD):
            _create_record(conn)
        for migration_set in sets:
            applied += _apply_set(conn, migration_set)
    return applied


def _create_record(conn: psycopg.Connection) -> None:
    # Checked first: CREATE TABLE IF NOT EXISTS asks for CREATE on the schema even when the table is there.
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() != (None,):
        return
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
    )


def _apply_set(conn: psycopg.Connection, migration_set: MigrationSet) -> list[str]:
    with refusals_named(RECORD):
        done = {
            row[0]
            for row in conn.execute(
                "SELECT version FROM schema_migrations WHERE component = %s", (migration_set.component,)
            )
        }
    applied = []
    for version, name, script in migration_set.scripts():
        if version in done:
            continue
        with refusals_named(f"{migration_set.component}/{name}"), conn.transaction():
            conn.execute(script.read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES (%s, %s, %s)",
                (migration_set.component, version, name),
            )
        log.info("applied migration %s/%s", migration_set.component, name)
        applied.append(f"{migration_set.component}/{name}")
    return applied
