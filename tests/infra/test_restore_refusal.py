"""`make restore` (deploy/local/backup.py restore) refuses while sessions are connected to the cluster
it restores, naming them and how to stop them, unless forced: on a private cluster (the drill's), with
postgres.sh replaced by a fake that ends the test where the real one would stop the cluster."""

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.processes import free_port
from tests.support.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "deploy" / "local" / "backup.py"


class Stopping(Exception):
    """Raised by the fake postgres.sh at `stop`: the restore got past its checks."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A private cluster with an identity database, in the repository's state folder (which the
    cluster's OS user can reach), on a port of its own; the shared one is never touched."""
    backup = load_script(BACKUP, "backup_restore_refusal")
    port = free_port()
    private = backup.Drill(REPO / ".state" / f"restore-refusal-{port}", port)
    try:
        private.create()
        yield private
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            private.pg_ctl("stop", "-m", "fast")
        shutil.rmtree(private.root, ignore_errors=True)


@pytest.fixture
def backup(cluster, monkeypatch):  # type: ignore[no-untyped-def]
    """backup.py on the private cluster, with one base backup laid next to its data folder."""
    module = load_script(BACKUP, "backup_restore_refusal")
    base = cluster.root / "backups" / "base" / "20261206T100000Z"
    base.mkdir(parents=True, exist_ok=True)
    (base / "backup_label").write_text("START WAL LOCATION")
    monkeypatch.setattr(module, "local_cluster", lambda: (cluster.data, cluster.port))

    def postgres_sh(*args: str) -> str:
        raise Stopping(args)

    monkeypatch.setattr(module, "postgres_sh", postgres_sh)
    return module


def test_a_restore_with_nobody_connected_goes_on_to_stop_the_cluster(backup):
    with pytest.raises(Stopping, match="stop"):
        backup.main(["restore"])


def test_a_restore_is_refused_while_a_service_is_connected_naming_it_and_how_to_stop_it(backup, cluster):
    with psycopg.connect(cluster.url("identity"), application_name="identity-relay"):
        with pytest.raises(SystemExit) as refused:
            backup.main(["restore"])
        said = str(refused.value.code)
        assert said.startswith("restore: refused, 1 session connected to the cluster it restores")
        assert "identity: identity-relay from 127.0.0.1" in said
        assert "stop them first" in said and "FORCE=1" in said
        assert cluster.data.is_dir()  # not moved aside

        with pytest.raises(Stopping, match="stop"):  # forced: on to stopping the cluster
            backup.main(["restore", "--force"])
