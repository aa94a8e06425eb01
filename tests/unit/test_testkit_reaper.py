"""Whose containers the test kit's reaper removes: only those of a process on this host that is gone
(the real engine: tests/containers/test_testkit_reaper.py)."""

import os
import socket
import subprocess
import sys

import pytest

from accounts_testkit.reaper import OWNER_LABEL, _owner_gone, owner_labels


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_this_process_is_not_gone():
    assert not _owner_gone(owner_labels()[OWNER_LABEL])


def test_a_process_that_exited_is_gone():
    assert _owner_gone(f"{socket.gethostname()}/{exited_pid()}/1")


def test_a_process_id_now_naming_another_process_is_gone():
    """The id was reused: the process under it started at another time than the owner."""
    assert _owner_gone(f"{socket.gethostname()}/{os.getpid()}/1")


@pytest.mark.parametrize(
    "owner",
    [f"another-host/{exited_pid()}/1", "", "no-pid-here", f"{socket.gethostname()}/x/1"],
    ids=["another host", "no label", "garbled", "not a number"],
)
def test_an_owner_this_host_cannot_judge_is_left_alone(owner):
    assert not _owner_gone(owner)
