"""Bounce messages (RFC 3464 delivery status notifications, and the older formats MTAs still send)
read into hard and soft failures per recipient, and the Maildir they arrive in.

flufl.bounce (Mailman's detector) knows the DSN format and a score of MTA-specific ones (Exim,
qmail, Exchange, …); it sorts each address into permanent (5.x.x: hard) or temporary (4.x.x,
delayed: soft). An address both permanent and temporary in one message counts as hard, unless the
DSN's Status for it blames our mail rather than the mailbox (spam or policy, a full mailbox, the
message's size or content): the mail failed, but the address takes mail, as at RCPT (adapters/smtp.py).
"""

import email
import email.policy
import functools
import logging
import mailbox
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from flufl.bounce import all_failures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounce:
    """One recipient a bounce message names, and whether for good."""

    address: str
    hard: bool


@dataclass(frozen=True)
class BounceReport:
    """What one bounce message says: its failures, and the Message-IDs of the mails it returns."""

    bounces: list[Bounce]
    original_message_ids: list[str]


def parse(raw: bytes) -> BounceReport:
    """Read one message as received in the bounce mailbox."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return BounceReport(classify(message), original_message_ids(message))


def classify(message: Message) -> list[Bounce]:
    """The recipients the message reports failed, hard or soft; [] for anything that is no bounce."""
    temporary, permanent = all_failures(message)
    spared = _spared_mailboxes(message)
    hard = {text for text in map(_text, permanent) if text.lower() not in spared}
    soft = {_text(address) for address in (*temporary, *permanent)} - hard
    return [Bounce(address, True) for address in sorted(hard)] + [
        Bounce(address, False) for address in sorted(soft)
    ]


# A DSN Status (RFC 3463) that fails the mail for good but not for the mailbox's sake: 5.2.2 a full
# mailbox, 5.2.3/5.2.4 the message's size or a list's expansion, 5.3.x the receiving system, 5.5.x the
# protocol, 5.6.x the content, 5.7.x security and policy (refused as spam, DMARC, a block list).
SPARES_THE_MAILBOX = re.compile(r"^5\.(2\.[2-4]|[3567]\.\d{1,3})\b")


def _spared_mailboxes(message: Message) -> set[str]:
    """The recipients (lower-cased; by their original and final addresses, either of which the
    detector may name) whose every failure a delivery-status part gives a Status sparing the mailbox."""
    statuses: dict[str, set[bool]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for fields in part.get_payload():
            if not isinstance(fields, Message) or not _failed_block(fields):
                continue
            spared = bool(SPARES_THE_MAILBOX.match(str(fields.get("Status", "")).strip()))
            for recipient in (fields.get("Original-Recipient"), fields.get("Final-Recipient")):
                if recipient:
                    statuses.setdefault(_text(str(recipient).partition(";")[2]).lower(), set()).add(spared)
    return {address for address, spared in statuses.items() if spared == {True}}


def _failed_block(fields: Message) -> bool:
    return str(fields.get("Action", "")).lower().startswith("fail")


# A Message-ID line of a returned mail quoted as text (Exim, qmail, Exchange 5.5 copy it into the body).
QUOTED_MESSAGE_ID = re.compile(
    r"^(?:X-Original-)?Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE
)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def original_message_ids(message: Message) -> list[str]:
    """The Message-IDs of the mail the bounce returns: from its headers (a message/rfc822 or
    text/rfc822-headers part, or quoted in the text) and the bounce's In-Reply-To and References."""
    found = [message_id for name in ("In-Reply-To", "References") for message_id in _ids_in(message[name])]
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822" and part.is_multipart():
            returned = part.get_payload(0)
            if isinstance(returned, Message):
                found += [*_ids_in(returned["Message-ID"]), *_ids_in(returned["X-Original-Message-ID"])]
        elif content_type in ("text/rfc822-headers", "text/plain") and not part.is_multipart():
            found += QUOTED_MESSAGE_ID.findall(_decoded(part))
    return list(dict.fromkeys(found))


def _ids_in(header: object) -> list[str]:
    return MESSAGE_ID.findall(str(header or ""))


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _text(address: bytes | str) -> str:
    text = address.decode("utf-8", errors="replace") if isinstance(address, bytes) else address
    return text.strip().strip("<>").strip()


def unread_messages(folder: Path) -> Iterator[tuple[bytes, Callable[..., None]]]:
    """Each new message of the Maildir, with the call that files it as read (moved to cur/, flag S;
    `flagged=True` adds F, for an operator to look at) once it has been handled: a crash before that
    reads it again, which is harmless.

    Only new/ is listed: cur/ holds what was handled already, and grows until housekeeping expires it.
    """
    mailbox.Maildir(folder, create=True)  # new/, cur/ and tmp/, as a mail server delivering to it makes
    for path in _messages_in(folder / "new"):
        try:
            raw = path.read_bytes()
        except OSError as error:  # filed by another reader since listed, or unreadable: left as it is
            log.warning("bounces: %s could not be read: %s", path, error)
            continue
        yield raw, functools.partial(_file_as_read, path)


def _messages_in(subdir: Path) -> list[Path]:
    """The messages of a Maildir's new/ or cur/, by name (the oldest first): regular files only, and
    no hidden ones (a name starting with a dot is no message in a Maildir); tmp/ is never read."""
    try:
        with os.scandir(subdir) as entries:
            names = [
                entry.name
                for entry in entries
                if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False)
            ]
    except FileNotFoundError:
        return []
    return [subdir / name for name in sorted(names)]


def _flags(name: str) -> set[str]:
    """The flags a Maildir file name carries after its colon ("<key>:2,FS")."""
    _, _, info = name.partition(mailbox.Maildir.colon)
    return set(info[2:]) if info.startswith("2,") else set()


def _file_as_read(path: Path, *, flagged: bool = False) -> None:
    key = path.name.partition(mailbox.Maildir.colon)[0]
    flags = "".join(sorted(_flags(path.name) | ({"S", "F"} if flagged else {"S"})))
    read = path.parent.parent / "cur" / f"{key}{mailbox.Maildir.colon}2,{flags}"
    try:
        os.rename(path, read)
    except OSError as error:  # gone already (another reader filed it), or cur/ not writable
        log.warning("bounces: %s could not be filed as read: %s", path, error)


def expire_read_messages(folder: Path, max_age_s: float, now: float | None = None) -> int:
    """Delete the messages of cur/ (handled) last modified more than `max_age_s` seconds ago, except
    those flagged F, left for an operator to look at; how many went. new/ is never touched."""
    oldest_kept = (time.time() if now is None else now) - max_age_s
    expired = 0
    for path in _messages_in(folder / "cur"):
        if "F" in _flags(path.name):
            continue
        try:
            if path.lstat().st_mtime < oldest_kept:
                path.unlink()
                expired += 1
        except FileNotFoundError:  # deleted meanwhile (by an operator)
            continue
    return expired
