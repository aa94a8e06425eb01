"""`make restore BASE=name` (deploy/local/backup.py restore): a name that is not one of the base
backups is refused before the running cluster is stopped or its data moved aside."""

import importlib.util
from pathlib import Path

import pytest

from tests.support.scripts import load_script

BACKUP_PY = Path(__file__).resolve().parents[2] / "deploy" / "local" / "backup.py"


@pytest.fixture
def backup(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The module, on a cluster laid out in tmp_path with one base backup; postgres.sh is never run."""
    spec = importlib.util.spec_from_file_location("local_backup", BACKUP_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "data").mkdir()
    (tmp_path / "backups" / "base" / "20261206T100000Z").mkdir(parents=True)
    (tmp_path / "backups" / "base" / "20261206T100000Z" / "backup_label").write_text("START WAL LOCATION")
    (tmp_path / "backups" / "wal").mkdir()
    monkeypatch.setattr(module, "local_cluster", lambda: (tmp_path / "data", 5433))
    monkeypatch.setattr(module, "postgres_sh", lambda *args: pytest.fail(f"postgres.sh {args} was run"))
    return module


@pytest.mark.parametrize("name", ["..", "../wal", ".", "20261206T100000Z/.."])
def test_restore_refuses_a_name_that_is_not_a_base_backup(backup, name, tmp_path):
    with pytest.raises(SystemExit) as done:
        backup.main(["restore", name])
    assert str(done.value.code).startswith(f"restore: no base backup {name} in ")
    assert (tmp_path / "data").is_dir()


def test_the_cluster_is_found_in_a_folder_named_with_parentheses(monkeypatch):
    """postgres.sh status names the data folder between parentheses, which a checkout's path may
    hold too: the backups go next to that folder, and a restore moves it aside."""
    module = load_script(BACKUP_PY, "local_backup_cluster")
    data = "/home/me/Projects (work)/accounts/.state/postgres/data"
    status = f"postgres.sh: running on 127.0.0.1:5439 (data {data})\n"
    monkeypatch.setattr(module, "postgres_sh", lambda *args: status)
    assert module.local_cluster() == (Path(data), 5439)
