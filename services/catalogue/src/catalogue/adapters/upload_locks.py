"""Writers of one upload locked against each other across processes: a PostgreSQL advisory lock per
upload, for the uploads kept in a bucket (upload_parts), where no file of ours can be locked."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from uuid import UUID

import psycopg

from accounts_common.leader import CLIENT_PROBES, probed_by_the_server
from catalogue.adapters.upload_area import UploadBusy

# Advisory locks on two int4 keys live apart from the bigint ones (the relays' leader, migrations).
LOCK_NAMESPACE = 0x75706C64  # "upld"

Lock = Callable[[UUID], AbstractContextManager[None]]


def pg_lock(database_url: str) -> Lock:
    """A lock per upload for all processes: a session advisory lock on a connection of its own, held
    while the request writes (a pool connection would be held as long, starving the other requests);
    UploadBusy when another session holds it. A crash releases it too, with the connection, and a
    vanished host within about half a minute: the session is probed both ways, as the relays' leader
    lock is (accounts_common.leader), not after TCP's two hours."""

    @contextmanager
    def lock(upload_id: UUID) -> Iterator[None]:
        key = lock_key(upload_id)
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5, **CLIENT_PROBES) as conn:
            probed_by_the_server(conn)
            row = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", key).fetchone()
            if not (row and row[0]):
                raise UploadBusy(str(upload_id))
            try:
                yield
            finally:
                # Released before the answer goes: closing the connection releases it only once its
                # server process has ended, after a client's next PATCH may have found it held (423).
                with suppress(psycopg.Error):  # a broken connection has released it already
                    conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", key)

    return lock


def lock_key(upload_id: UUID) -> tuple[int, int]:
    """The advisory lock's two int4 keys: the namespace, and 32 random bits of the id (two uploads in
    progress sharing them would only wait for each other)."""
    return LOCK_NAMESPACE, int.from_bytes(upload_id.bytes[:4], "big", signed=True)
