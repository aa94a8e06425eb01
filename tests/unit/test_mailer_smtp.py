"""SmtpSender against a tiny in-test SMTP server: what is sent again, and how replies are sorted."""

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from accounts_common.retry_policy import PermanentError, TransientError
from mailer.adapters.smtp import HardBounce, OutcomeUnknown, SmtpConfigurationError, SmtpSender, _classify
from mailer.domain.messages import Content, Envelope, OutgoingEmail, build_message


@dataclass
class FakeServer:
    """Takes every message; answers the end of DATA after `final_reply_delay` seconds, RCPT with
    `rcpt_reply` and DATA with `data_reply`; offers the EHLO `extensions`. A refused DATA leaves the
    transaction open until RSET, as Postfix's smtpd_data_restrictions do."""

    extensions: tuple[str, ...] = ("8BITMIME",)
    final_reply_delay: float = 0.0
    rcpt_reply: bytes = b"250 ok"
    data_reply: bytes = b"354 go"
    accepted: list[bytes] = field(default_factory=list)
    port: int = 0
    open_transactions: set[socket.socket] = field(default_factory=set)

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 fake ESMTP\r\n")
            while line := lines.readline():
                if not self.answer(conn, lines, line.strip().upper()):
                    return

    def answer(self, conn: socket.socket, lines, command: bytes) -> bool:
        if command.startswith(b"EHLO"):
            offered = b"".join(b"250-" + name.encode() + b"\r\n" for name in ("fake", *self.extensions))
            conn.sendall(offered + b"250 OK\r\n")
        elif command.startswith(b"AUTH"):
            conn.sendall(b"535 5.7.8 Authentication credentials invalid\r\n")
        elif command.startswith(b"RCPT"):
            conn.sendall(self.rcpt_reply + b"\r\n")
        elif command.startswith(b"MAIL") and conn in self.open_transactions:
            conn.sendall(b"503 5.5.1 Error: nested MAIL command\r\n")
        elif command.startswith(b"MAIL"):
            self.open_transactions.add(conn)
            conn.sendall(b"250 ok\r\n")
        elif command.startswith(b"RSET"):
            self.open_transactions.discard(conn)
            conn.sendall(b"250 ok\r\n")
        elif command.startswith(b"DATA") and not self.data_reply.startswith(b"354"):
            conn.sendall(self.data_reply + b"\r\n")
        elif command.startswith(b"DATA"):
            conn.sendall(self.data_reply + b"\r\n")
            self.accepted.append(b"".join(iter(lines.readline, b".\r\n")))
            self.open_transactions.discard(conn)
            time.sleep(self.final_reply_delay)
            try:
                conn.sendall(b"250 queued\r\n")
            except OSError:
                return False
        elif command.startswith(b"QUIT"):
            conn.sendall(b"221 bye\r\n")
            return False
        else:
            conn.sendall(b"250 ok\r\n")
        return True


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        fake.port = listener.getsockname()[1]
        threading.Thread(target=fake.serve, args=(listener,), daemon=True).start()
        yield fake


def message(to: str = "b@y.test") -> OutgoingEmail:
    content = Content("s", "t\n.a line starting with a dot\n", "<p>h</p>")
    return build_message(Envelope("A <a@x.test>", "r@x.test"), to, content, event_id="e")


def test_a_slow_final_reply_is_awaited_longer_than_the_other_replies(server):
    # The other replies' timeout leaves this test's server thread a second to answer on a busy machine.
    server.final_reply_delay = 1.5
    sender = SmtpSender("127.0.0.1", server.port, timeout=1.0, final_reply_timeout=5)
    sender.send(message())
    sender.close()
    assert len(server.accepted) == 1
    assert b"\r\n..a line starting with a dot" in server.accepted[0]


def test_a_final_reply_that_never_comes_is_not_sent_again(server):
    server.final_reply_delay = 2.5
    sender = SmtpSender("127.0.0.1", server.port, timeout=1.0, final_reply_timeout=1.2)
    with pytest.raises(OutcomeUnknown, match="may have been delivered"):
        sender.send(message())
    assert isinstance(OutcomeUnknown("x"), PermanentError) and not isinstance(OutcomeUnknown("x"), HardBounce)
    time.sleep(1.0)
    assert len(server.accepted) == 1


def test_a_connection_lost_before_the_message_is_opened_again(server):
    sender = SmtpSender("127.0.0.1", server.port, timeout=2)
    sender.send(message())
    assert sender._smtp is not None
    sender._smtp.sock.close()  # dropped between two mails
    sender.send(message())
    sender.close()
    assert len(server.accepted) == 2


def test_a_refused_data_command_leaves_the_connection_ready_for_the_next_mail(server):
    server.data_reply = b"450 4.7.1 Try again later"
    sender = SmtpSender("127.0.0.1", server.port, timeout=2)
    with pytest.raises(TransientError, match="450"):
        sender.send(message())
    server.data_reply = b"354 go"
    sender.send(message("c@y.test"))  # on the same connection: not "nested MAIL", a permanent failure
    sender.close()
    assert len(server.accepted) == 1


BOUNCE = "hard bounce"  # the mailbox is to blame: the address is suppressed
FAIL = "mail failed"  # our sending or the message is to blame: the address is kept


@pytest.mark.parametrize(
    ("code", "reply", "stage", "verdict"),
    [
        (550, "5.1.1 <bob@example.com>: Recipient address rejected: User unknown", "rcpt", BOUNCE),
        (550, "5.1.1 User unknown", "data", BOUNCE),
        (550, "5.1.1 User unknown", "", FAIL),
        (550, "5.2.1 Mailbox disabled", "rcpt", BOUNCE),
        (550, "Mailbox unavailable", "rcpt", BOUNCE),
        (553, "Mailbox name not allowed", "rcpt", BOUNCE),
        (554, "5.7.1 <bob@example.com>: Relay access denied", "rcpt", FAIL),
        (550, "5.7.1 Service unavailable; host [203.0.113.5] blocked using zen.spamhaus.org", "rcpt", FAIL),
        (550, "5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy", "data", FAIL),
        (552, "5.2.2 Mailbox full", "rcpt", FAIL),
        (552, "5.3.4 Message too big", "data", FAIL),
        (554, "Transaction failed", "rcpt", FAIL),
        (550, "Rejected", "data", FAIL),
    ],
)
def test_a_permanent_refusal_is_a_hard_bounce_only_when_it_blames_the_mailbox(code, reply, stage, verdict):
    error = _classify(code, reply.encode(), stage=stage)
    assert isinstance(error, PermanentError)
    assert (BOUNCE if isinstance(error, HardBounce) else FAIL) == verdict


def test_a_policy_refusal_at_rcpt_is_permanent_without_suppressing(server):
    server.rcpt_reply = b"554 5.7.1 <b@y.test>: Relay access denied"
    sender = SmtpSender("127.0.0.1", server.port, timeout=2)
    with pytest.raises(PermanentError, match="Relay access denied") as refused:
        sender.send(message())
    sender.close()
    assert not isinstance(refused.value, HardBounce)


def test_a_replys_control_characters_never_reach_the_failure_the_mailer_stores_and_reports(server):
    """A server's reply is anybody's text: PostgreSQL cannot store a NUL (the failure would be neither
    recorded nor reported), and an escape sequence has no place in a log or the console."""
    server.rcpt_reply = b"550 5.1.1 no\x00such\x1b[31m mailbox\xff"
    sender = SmtpSender("127.0.0.1", server.port, timeout=2)
    with pytest.raises(HardBounce) as refused:
        sender.send(message())
    sender.close()
    assert str(refused.value) == "SMTP 550 5.1.1 no such [31m mailbox\ufffd"


@pytest.mark.parametrize(
    ("settings", "missing"),
    [({"security": "starttls"}, "STARTTLS"), ({"username": "u", "password": "p"}, "AUTH")],
)
def test_a_server_without_the_starttls_or_auth_the_settings_ask_for_is_a_configuration_error_retried(
    server, settings, missing
):
    sender = SmtpSender("127.0.0.1", server.port, timeout=2, **settings)
    with pytest.raises(SmtpConfigurationError, match=f"does not offer {missing}") as refused:
        sender.send(message())
    assert isinstance(refused.value, TransientError) and "SMTPUTF8" not in str(refused.value)
    assert server.accepted == []


def test_a_non_ascii_address_needs_a_server_offering_smtputf8(server):
    sender = SmtpSender("127.0.0.1", server.port, timeout=2)
    with pytest.raises(PermanentError, match="does not offer SMTPUTF8"):
        sender.send(message("josé@bücher.example"))
    server.extensions = ("8BITMIME", "SMTPUTF8")
    sender.close()
    sender.send(message("josé@bücher.example"))
    sender.close()
    assert len(server.accepted) == 1


def test_a_refused_login_is_a_configuration_error_retried_not_a_dead_letter(server):
    server.extensions = ("8BITMIME", "AUTH PLAIN LOGIN")
    sender = SmtpSender("127.0.0.1", server.port, timeout=2, username="u", password="wrong")
    with pytest.raises(SmtpConfigurationError, match="refused the login of SMTP_USERNAME: 535"):
        sender.send(message())
    assert server.accepted == []
