"""A process loop that writes to Kafka while it leads: one instance at a time, the others on standby."""

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter

from accounts_common.kafka import REFUSED, create_producer, not_authorized
from accounts_common.retry import Backoff

log = logging.getLogger(__name__)

# A leader whose host vanishes (a node lost, a network cut) sends no FIN: PostgreSQL ends its session,
# freeing the lock for a standby, only once TCP finds the peer gone. Its defaults took 7200 s of
# silence then 9 probes 75 s apart, or, with a NOTIFY unacknowledged, a quarter of an hour of
# retransmissions. Both sides of the lock's session probe after 10 s, every 5 s, 3 times, and give up
# on data unacknowledged for 25 s: a standby takes over within about half a minute, and a leader cut
# off from its database notices as soon.
PROBE_AFTER_S, PROBE_EVERY_S, PROBES = 10, 5, 3
UNACKNOWLEDGED_MS = 25_000
CLIENT_PROBES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": PROBE_AFTER_S,
    "keepalives_interval": PROBE_EVERY_S,
    "keepalives_count": PROBES,
    "tcp_user_timeout": UNACKNOWLEDGED_MS,
}


class LeadingProducer:
    """Holds a PostgreSQL advisory lock while it works, so one instance per database produces at a
    time; database and broker outages are retried with backoff and a fresh producer. Kafka refusing
    its login or an ACL is no outage: it stops with KafkaNotAuthorized."""

    lock_key: int
    failures: Counter

    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        *,
        client_id: str,
        poll_interval: float = 1.0,
        producer_factory: Callable[..., KafkaProducer] = create_producer,
    ) -> None:
        self.database_url = database_url
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.poll_interval = poll_interval
        self.producer_factory = producer_factory
        self._producer: KafkaProducer | None = None

    def serve(self, conn: psycopg.Connection, stop: threading.Event) -> None:
        """The work, done while leading, on the connection that holds the lock."""
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        """Lead and serve until `stop` is set, surviving database and broker outages."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True, **CLIENT_PROBES) as conn:
                    probed_by_the_server(conn)
                    if self._lead(conn, stop):
                        backoff.reset()
                        self.serve(conn, stop)
            except REFUSED as error:
                self.failures.inc()
                self._drop_producer()
                raise not_authorized(self.client_id, error) from None
            except (psycopg.OperationalError, KafkaError) as error:
                self.failures.inc()
                log.warning("%s: %s; retrying", self.client_id, error)
                self._drop_producer()
                stop.wait(backoff.next())
        self._drop_producer()

    def _lead(self, conn: psycopg.Connection, stop: threading.Event) -> bool:
        """Wait to become the one instance at work."""
        while not stop.is_set():
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
            if locked and locked[0]:
                log.info("%s is leading", self.client_id)
                return True
            self.standing_by()
            stop.wait(self.poll_interval * 5)
        return False

    def standing_by(self) -> None:
        """Called while another instance leads (nothing by default)."""

    def producer_options(self) -> dict[str, Any]:
        """Settings of the producer beyond create_producer's (none by default)."""
        return {}

    def producer(self) -> KafkaProducer:
        """The idempotent producer, created on first use and after a failure."""
        if self._producer is None:
            self._producer = self.producer_factory(
                self.bootstrap_servers, client_id=self.client_id, **self.producer_options()
            )
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - a broken producer is replaced whatever close says
                log.debug("closing a failed producer raised", exc_info=True)
            self._producer = None


def probed_by_the_server(conn: psycopg.Connection) -> None:
    """Have PostgreSQL probe this session as the leader probes it (see CLIENT_PROBES)."""
    conn.execute(
        """SELECT set_config('tcp_keepalives_idle', %s, false),
                  set_config('tcp_keepalives_interval', %s, false),
                  set_config('tcp_keepalives_count', %s, false),
                  set_config('tcp_user_timeout', %s, false)""",
        (str(PROBE_AFTER_S), str(PROBE_EVERY_S), str(PROBES), str(UNACKNOWLEDGED_MS)),
    )
