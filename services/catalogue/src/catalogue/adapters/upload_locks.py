"""Writers of one upload locked against each other across processes: a PostgreSQL advisory lock per
upload, for the uploads kept in a bucket (upload_parts), where no file of ours can be locked. And a
gate per upload between a part on its way and the readers of the parts: the writer holds it while it
sends one, a reader (a HEAD, another process's) waits for that part before listing them."""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol
from uuid import UUID

import psycopg

from accounts_common.leader import CLIENT_PROBES, probed_by_the_server
from catalogue.adapters.storage import StorageUnavailable
from catalogue.adapters.upload_area import UploadBusy

# Advisory locks on two int4 keys live apart from the bigint ones (the relays' leader, migrations).
LOCK_NAMESPACE = 0x75706C64  # "upld"
PART_NAMESPACE = 0x70617274  # "part"
# How long a reader waits for a part on its way: sent from a buffer, it takes what the store needs to
# take the bytes; a part still unfinished after this is the store failing (503).
PART_WAIT_S = 30

Sending = Callable[[], AbstractContextManager[None]]  # the gate, closed while its writer sends a part


class Lock(Protocol):
    def __call__(self, upload_id: UUID) -> AbstractContextManager[Sending]:
        """The upload's writers' lock (UploadBusy when another holds it), which hands its holder the
        gate to close around each part it sends."""

    def reading(self, upload_id: UUID) -> AbstractContextManager[None]:
        """Held while the parts are read: no part of the upload is on its way meanwhile."""


def pg_lock(database_url: str) -> Lock:
    return PgLock(database_url)


class PgLock:
    """A lock per upload for all processes: a session advisory lock on a connection of its own, held
    while the request writes (a pool connection would be held as long, starving the other requests);
    UploadBusy when another session holds it. A crash releases it too, with the connection, and a
    vanished host within about half a minute: the session is probed both ways, as the relays' leader
    lock is (accounts_common.leader), not after TCP's two hours.

    The gate is a second advisory lock: exclusive on the writer's connection while it sends a part,
    shared by readers, which wait for it (S3Proxy's filesystem backend fails a listing of the parts
    while one is being written: a HEAD then was a 503)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.thread = threading.local()  # .holding: the uploads whose writers' lock this thread holds

    @contextmanager
    def __call__(self, upload_id: UUID) -> Iterator[Sending]:
        key = lock_key(upload_id)
        with self._connect() as conn:
            probed_by_the_server(conn)
            row = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key).fetchone()
            if not (row and row[0]):
                raise UploadBusy(str(upload_id))
            self._holding().add(upload_id)
            try:
                yield lambda: _held(conn, part_key(upload_id), shared=False)
            finally:
                self._holding().discard(upload_id)
                # Released before the answer goes: closing the connection releases it only once its
                # server process has ended, after a client's next PATCH may have found it held (423).
                with suppress(psycopg.Error):  # a broken connection has released it already
                    conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", key)

    @contextmanager
    def reading(self, upload_id: UUID) -> Iterator[None]:
        if upload_id in self._holding():  # the writer reads: it sends no part meanwhile, nobody else may
            yield
            return
        with self._connect(options=f"-c lock_timeout={PART_WAIT_S * 1000}") as conn:
            try:
                with _held(conn, part_key(upload_id), shared=True):
                    yield
            except psycopg.errors.LockNotAvailable:
                raise StorageUnavailable(
                    f"upload {upload_id}: a part still on its way after {PART_WAIT_S} s"
                ) from None

    def _holding(self) -> set[UUID]:
        if not hasattr(self.thread, "holding"):
            self.thread.holding = set()
        return self.thread.holding  # type: ignore[no-any-return]

    def _connect(self, **options: str) -> psycopg.Connection:
        settings = {"autocommit": True, "connect_timeout": 5, **CLIENT_PROBES, **options}
        return psycopg.connect(self.database_url, **settings)


# Taking and releasing an advisory lock on two int4 keys, exclusive or shared.
EXCLUSIVE = ("SELECT pg_advisory_lock(%s::int4, %s::int4)", "SELECT pg_advisory_unlock(%s::int4, %s::int4)")
SHARED = (
    "SELECT pg_advisory_lock_shared(%s::int4, %s::int4)",
    "SELECT pg_advisory_unlock_shared(%s::int4, %s::int4)",
)


@contextmanager
def _held(conn: psycopg.Connection, key: tuple[int, int], *, shared: bool) -> Iterator[None]:
    """The advisory lock on `key`, waited for; released at the end."""
    take, release = SHARED if shared else EXCLUSIVE
    conn.execute(take, key)
    try:
        yield
    finally:
        with suppress(psycopg.Error):
            conn.execute(release, key)


def lock_key(upload_id: UUID) -> tuple[int, int]:
    """The advisory lock's two int4 keys: the namespace, and 32 random bits of the id (two uploads in
    progress sharing them would only wait for each other)."""
    return LOCK_NAMESPACE, int.from_bytes(upload_id.bytes[:4], "big", signed=True)


def part_key(upload_id: UUID) -> tuple[int, int]:
    """The gate's keys: the same 32 bits, in a namespace of their own."""
    return PART_NAMESPACE, lock_key(upload_id)[1]
