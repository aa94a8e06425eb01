"""An upload's lock is a session advisory lock: a web worker whose host vanishes (no FIN) would keep
it until TCP gave up on the peer, two hours with the defaults, and the upload could not resume. Its
session is probed both ways, as the relays' leader lock is (accounts_common.leader)."""

from uuid import uuid4

import psycopg

from accounts_common.leader import PROBE_AFTER_S, PROBE_EVERY_S, PROBES, UNACKNOWLEDGED_MS
from catalogue.adapters import upload_locks


def test_the_session_holding_an_upload_lock_is_probed_both_ways(catalogue_db, monkeypatch):
    opened: list[psycopg.Connection] = []
    real_connect = psycopg.connect

    def connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(real_connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(upload_locks.psycopg, "connect", connect)
    with upload_locks.pg_lock(catalogue_db)(uuid4()):
        (conn,) = opened
        client = conn.info.get_parameters()
        server = conn.execute(
            """SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                      current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout')"""
        ).fetchone()
    probes = ("keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout")
    assert tuple(client.get(name) for name in probes) == (
        str(PROBE_AFTER_S),
        str(PROBE_EVERY_S),
        str(PROBES),
        str(UNACKNOWLEDGED_MS),
    )
    assert server == (str(PROBE_AFTER_S), str(PROBE_EVERY_S), str(PROBES), str(UNACKNOWLEDGED_MS))
