"""The example counter's command line: `--help` says how to run it, and creates nothing."""

import pytest
import verified_accounts_counter


def test_help_describes_the_command_and_creates_no_database(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        verified_accounts_counter.main(["--help"])
    assert exited.value.code == 0
    assert "usage: verified-accounts-counter [-h] [database]" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
