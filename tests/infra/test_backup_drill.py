"""deploy/local/backup.py: the drill end to end on a private cluster, and how it judges a restore."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
BACKUP = REPO / "deploy" / "local" / "backup.py"
MB = 1024 * 1024
# The drill's cluster under a state folder whose name the shell and postgresql.conf would both split or
# end early, unquoted: a checkout's path may hold spaces. In the repository's own state folder, which
# the cluster's OS user can reach (pytest's temporary folders are private to the user running it).
ODD_STATE_DIR = REPO / ".state" / "backup drill's 100% state"


def load_backup_module() -> Any:
    """deploy/local/backup.py imported in this process (it is a script, not a package)."""
    return load_script(BACKUP, "backup_under_test")


def test_the_drill_restores_every_account_committed_before_the_last_archived_segment():
    environment = {**os.environ, "STATE_DIR": str(ODD_STATE_DIR)}
    try:
        result = subprocess.run(
            [sys.executable, str(BACKUP), "drill"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=environment,
        )
    finally:
        with contextlib.suppress(OSError):  # empty once the drill passed; else its cluster is kept for a look
            ODD_STATE_DIR.rmdir()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drill: lost 0 " in result.stdout
    assert "RPO" in result.stdout and "RTO" in result.stdout


def test_a_segment_name_gives_the_lsn_past_its_end():
    backup = load_backup_module()
    assert backup.segment_end_lsn("000000010000000000000003", MB) == 4 * MB
    assert backup.segment_end_lsn("000000010000000100000000", 16 * MB) == 0x1_0000_0000 + 16 * MB
    assert backup.parse_lsn("1/A0") == 0x1_0000_00A0


def test_an_archived_account_missing_after_the_restore_is_a_loss(capsys):
    backup = load_backup_module()
    written = {"archived": (4 * MB - 10, 100.0), "tail": (4 * MB + 10, 101.0)}
    last = "000000010000000000000003"  # ends at 4 MB

    assert backup.report(written, {"archived"}, last, 102.0, 1.0) == 0
    assert backup.report(written, {"tail"}, last, 102.0, 1.0) == 1
    assert "lost 1 " in capsys.readouterr().out
