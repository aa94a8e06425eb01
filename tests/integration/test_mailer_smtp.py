"""SmtpSender against a private SMTP sink: one reused connection, reconnects, replies sorted by class."""

import uuid

import pytest

from accounts_common.retry_policy import PermanentError, TransientError
from mailer.adapters.smtp import SmtpSender
from mailer.domain.messages import Content, Envelope, OutgoingEmail, build_message
from tests.support.sink import PrivateSink

ENVELOPE = Envelope("no-reply@multimedia.localhost", "support@multimedia.localhost")


def message(to: str, subject: str) -> OutgoingEmail:
    content = Content(subject, "From the start of the line: not quoted.\n", "<p>html</p>")
    return build_message(ENVELOPE, to, content, event_id=str(uuid.uuid4()))


def test_one_connection_is_reused_and_a_dropped_one_is_reopened(sink, unique_email):
    sender = SmtpSender("127.0.0.1", sink.smtp_port)
    try:
        sender.send(message(unique_email, "first"))
        first_connection = sender._smtp
        sender.send(message(unique_email, "second"))
        assert sender._smtp is first_connection

        sink.stop()
        sink.start()  # the server went away and came back: the old connection is dead
        sender.send(message(unique_email, "after the restart"))
    finally:
        sender.close()
    [mail] = sink.inbox.wait_for_messages(unique_email)
    assert mail["subject"] == "after the restart"
    assert mail["text"] == "From the start of the line: not quoted.\n"


def test_no_server_is_a_passing_failure(sink, unique_email):
    sink.stop()
    sender = SmtpSender("127.0.0.1", sink.smtp_port, timeout=2)
    with pytest.raises(TransientError, match="connection"):
        sender.send(message(unique_email, "nobody listens"))


def test_4xx_is_transient_and_5xx_permanent(sink, unique_email):
    sender = SmtpSender("127.0.0.1", sink.smtp_port)
    try:
        sink.inbox.set_fault(451, "4.3.0 Try again later", count=1)
        with pytest.raises(TransientError, match="451 4.3.0 Try again later"):
            sender.send(message(unique_email, "refused for now"))
        sink.inbox.set_fault(550, "5.1.1 Mailbox unavailable", count=1)
        with pytest.raises(PermanentError, match="550 5.1.1 Mailbox unavailable"):
            sender.send(message(unique_email, "refused for good"))
        sender.send(message(unique_email, "accepted on the same connection"))
    finally:
        sender.close()
    [mail] = sink.inbox.wait_for_messages(unique_email)
    assert mail["subject"] == "accepted on the same connection"


def non_ascii_address() -> str:
    return f"josé-{uuid.uuid4().hex[:8]}@bücher.example"


def test_a_non_ascii_address_is_sent_with_smtputf8(sink):
    address = non_ascii_address()
    sender = SmtpSender("127.0.0.1", sink.smtp_port)
    try:
        sender.send(message(address, "für José"))
    finally:
        sender.close()
    [mail] = sink.inbox.wait_for_messages(address)
    assert mail["to"] == [address]
    assert mail["subject"] == "für José"


def test_a_non_ascii_address_fails_clearly_when_the_server_does_not_offer_smtputf8(tmp_path, unique_email):
    sink = PrivateSink(tmp_path, "--no-smtputf8")
    sink.start()
    sender = SmtpSender("127.0.0.1", sink.smtp_port)
    try:
        with pytest.raises(PermanentError, match="does not offer SMTPUTF8"):
            sender.send(message(non_ascii_address(), "refused"))
        sender.send(message(unique_email, "ASCII still goes"))
        [mail] = sink.inbox.wait_for_messages(unique_email)
    finally:
        sender.close()
        sink.stop()
    assert mail["subject"] == "ASCII still goes"
