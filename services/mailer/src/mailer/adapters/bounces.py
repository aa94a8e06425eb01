"""Bounce messages (RFC 3464 delivery status notifications, and the older formats MTAs still send)
read into hard and soft failures per recipient, and the Maildir they arrive in.

flufl.bounce (Mailman's detector) knows the DSN format and a score of MTA-specific ones (Exim,
qmail, Exchange, …); it sorts each address into permanent (5.x.x: hard) or temporary (4.x.x,
delayed: soft). An address both permanent and temporary in one message counts as hard.
"""

import email
import email.policy
import logging
import mailbox
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
    hard = {_text(address) for address in permanent}
    soft = {_text(address) for address in temporary} - hard
    return [Bounce(address, True) for address in sorted(hard)] + [
        Bounce(address, False) for address in sorted(soft)
    ]


def original_message_ids(message: Message) -> list[str]:
    """The Message-IDs of the returned mail (its headers in a message/rfc822 or text/rfc822-headers
    part), which name the very delivery that bounced."""
    found = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822" and part.is_multipart():
            headers = part.get_payload(0)
        elif content_type == "text/rfc822-headers":
            headers = email.message_from_string(str(part.get_payload(decode=False)))
        else:
            continue
        if isinstance(headers, Message) and headers.get("Message-ID"):
            found.append(str(headers["Message-ID"]).strip())
    return found


def _text(address: bytes | str) -> str:
    text = address.decode("utf-8", errors="replace") if isinstance(address, bytes) else address
    return text.strip().strip("<>").strip()


def unread_messages(folder: Path) -> Iterator[tuple[bytes, Callable[[], None]]]:
    """Each new message of the Maildir, with the call that files it as read (moved to cur/, flag S)
    once it has been handled: a crash before that reads it again, which is harmless."""
    box = mailbox.Maildir(folder, create=True)
    for key in list(box.iterkeys()):
        message = box.get_message(key)
        if message.get_subdir() != "new":
            continue

        def done(key: str = key, message: mailbox.MaildirMessage = message) -> None:
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message

        yield message.as_bytes(), done
