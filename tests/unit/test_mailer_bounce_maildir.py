"""The bounce Maildir as `mailer bounces` reads it: only new/ is listed and read, each message filed
into cur/ once handled; handled messages expire, unless flagged for an operator."""

import builtins
import itertools
import mailbox
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mailer.adapters.bounces import expire_read_messages, unread_messages
from mailer.service_layer import bounces
from mailer.service_layer.bounces import MaildirHousekeeping, watch_maildir

BOUNCE = b"From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail\n\n5.1.1 User unknown\n"


def maildir(tmp_path: Path) -> Path:
    folder = tmp_path / "bounces"
    mailbox.Maildir(folder, create=True)
    return folder


def test_only_new_messages_are_opened_not_those_already_handled(tmp_path, monkeypatch):
    folder = maildir(tmp_path)
    for number in range(3):
        (folder / "cur" / f"{number}.handled:2,S").write_bytes(BOUNCE)
    (folder / "new" / "9.arrived").write_bytes(BOUNCE)
    opened: list[str] = []
    real_open = builtins.open

    def spying_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spying_open)
    assert [raw for raw, _ in unread_messages(folder)] == [BOUNCE]
    assert not [path for path in opened if "/cur/" in path]


def test_hidden_files_folders_and_tmp_are_no_messages(tmp_path):
    folder = maildir(tmp_path)
    (folder / "new" / ".nfs0001").write_bytes(b"not a message")
    (folder / "new" / "subfolder").mkdir()
    (folder / "tmp" / "1.being-delivered").write_bytes(BOUNCE)
    (folder / "new" / "2.arrived").write_bytes(BOUNCE)
    assert [raw for raw, _ in unread_messages(folder)] == [BOUNCE]


def test_a_handled_message_is_filed_into_cur_with_s_or_fs_under_its_key(tmp_path):
    folder = maildir(tmp_path)
    (folder / "new" / "1.read").write_bytes(BOUNCE)
    (folder / "new" / "2.odd").write_bytes(b"odd")
    (folder / "new" / "3.flagged-by-its-sender:2,F").write_bytes(BOUNCE)
    for raw, done in unread_messages(folder):
        done(flagged=b"odd" in raw)
    assert sorted(path.name for path in folder.glob("*/*")) == [
        "1.read:2,S", "2.odd:2,FS", "3.flagged-by-its-sender:2,FS"
    ]  # fmt: skip
    assert all(path.parent.name == "cur" for path in folder.glob("*/*"))
    by_mailbox = mailbox.Maildir(folder)
    assert by_mailbox.get_message("2.odd").get_flags() == "FS"
    assert list(unread_messages(folder)) == []


def test_a_message_not_filed_before_a_crash_is_read_again(tmp_path):
    folder = maildir(tmp_path)
    (folder / "new" / "1.arrived").write_bytes(BOUNCE)
    with pytest.raises(RuntimeError):
        for _raw, _done in unread_messages(folder):
            raise RuntimeError("the process dies while handling it")
    assert [raw for raw, _ in unread_messages(folder)] == [BOUNCE]


def test_a_message_gone_since_listed_is_skipped_and_filing_one_gone_is_no_crash(tmp_path):
    folder = maildir(tmp_path)
    (folder / "new" / "1.first").write_bytes(BOUNCE)
    (folder / "new" / "2.second").write_bytes(BOUNCE)
    messages = unread_messages(folder)
    _, done = next(messages)
    (folder / "new" / "1.first").unlink()  # another reader filed both meanwhile
    (folder / "new" / "2.second").unlink()
    done()
    assert list(messages) == []


DAY = 86400.0


def aged(path: Path, days: float, raw: bytes = BOUNCE) -> Path:
    path.write_bytes(raw)
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


def test_handled_messages_older_than_the_limit_go_but_not_those_flagged_for_an_operator(tmp_path):
    folder = maildir(tmp_path)
    aged(folder / "cur" / "1.old:2,S", days=91)
    aged(folder / "cur" / "2.old-unreadable:2,FS", days=400)
    aged(folder / "cur" / "3.young:2,S", days=89)
    aged(folder / "cur" / ".hidden-old", days=400)
    aged(folder / "new" / "4.old-but-unread", days=400)
    aged(folder / "tmp" / "5.old-being-delivered", days=400)
    assert expire_read_messages(folder, 90 * DAY) == 1
    assert sorted(path.name for path in folder.glob("*/*")) == [
        ".hidden-old", "2.old-unreadable:2,FS", "3.young:2,S", "4.old-but-unread", "5.old-being-delivered"
    ]  # fmt: skip


def test_expiring_a_maildir_that_is_not_there_expires_nothing(tmp_path):
    assert expire_read_messages(tmp_path / "nowhere", 0) == 0


def watched(monkeypatch, folder: Path, housekeeping: MaildirHousekeeping, rounds: int) -> None:
    """Run the bounces process's loop on an empty new/ (no database needed) for `rounds` rounds, counted:
    slept for, they could be fewer, the thread started late on a busy machine."""
    stop, enough = threading.Event(), threading.Event()
    interval = 0.02
    read, counted = bounces.read_maildir, itertools.count(1)

    def read_and_count(*args: Any) -> int:
        if next(counted) >= rounds:
            enough.set()
        return read(*args)

    monkeypatch.setattr(bounces, "read_maildir", read_and_count)
    thread = threading.Thread(
        target=watch_maildir, args=(None, "mailer.delivery-results.v1", folder, interval, stop, housekeeping)
    )
    thread.start()
    try:
        assert enough.wait(30), f"the loop did not run {rounds} rounds in 30 s"
    finally:
        stop.set()
        thread.join(timeout=5)


def test_the_bounce_reader_expires_handled_messages_when_its_housekeeping_is_due(tmp_path, monkeypatch):
    folder = maildir(tmp_path)
    old = aged(folder / "cur" / "1.old:2,S", days=91)
    flagged = aged(folder / "cur" / "2.old:2,FS", days=91)
    watched(monkeypatch, folder, MaildirHousekeeping(interval_s=0.05, max_age_s=90 * DAY), rounds=10)
    assert not old.exists()
    assert flagged.exists()


def test_the_bounce_reader_expires_nothing_when_housekeeping_is_off(tmp_path, monkeypatch):
    folder = maildir(tmp_path)
    old = aged(folder / "cur" / "1.old:2,S", days=91)
    watched(monkeypatch, folder, MaildirHousekeeping(interval_s=0, max_age_s=90 * DAY), rounds=5)
    assert old.exists()
