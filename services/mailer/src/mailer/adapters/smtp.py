"""SMTP delivery over one reused connection, with failures sorted into passing and permanent."""

import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from accounts_common.retry_policy import PermanentError, TransientError
from mailer.domain.messages import OutgoingEmail

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "tls")
# How long the reply to the end of DATA is awaited: the server may be checking the message before it
# answers, and a mail given up then may still be delivered (RFC 5321 4.5.3.2.6: 10 minutes).
FINAL_REPLY_TIMEOUT_S = 600.0


class _SMTP(smtplib.SMTP):
    """MAIL FROM and RCPT TO with the addresses as they are: smtplib parses each one again to quote
    it (email.utils.parseaddr, a fifth of a lane's CPU per email), while ours are bare addresses
    already checked (the event schema, email-validator, build_message).

    DATA remembers when the whole message went out (`message_handed_over`): a failure after that may
    follow a message the server took, so it must not be sent again."""

    final_reply_timeout: float = FINAL_REPLY_TIMEOUT_S
    message_handed_over = False

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.message_handed_over = False
        if self.does_esmtp and any(option.lower() == "smtputf8" for option in options):
            self.command_encoding = "utf-8"  # SmtpSender.send checked that the server offers it
        self.putcmd("mail", f"FROM:<{sender}>{self._option_list(options)}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.putcmd("rcpt", f"TO:<{recip}>{self._option_list(options)}")
        return self.getreply()

    def data(self, msg: "ReadableBuffer | str") -> tuple[int, bytes]:
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            # The transaction may still be open (Postfix's smtpd_data_restrictions leave it so): ended
            # here, as sendmail ends it after the other refusals, or the lane's next MAIL is "nested".
            self._end_transaction(code)
            raise smtplib.SMTPDataError(code, reply)
        self.send(_dot_stuffed(msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)))
        self.message_handed_over = True
        self._set_timeout(self.final_reply_timeout)
        try:
            return self.getreply()
        finally:
            self._set_timeout(self.timeout)

    def _end_transaction(self, code: int) -> None:
        if code == 421:  # the server is closing the connection
            self.close()
            return
        try:
            self.rset()
        except smtplib.SMTPServerDisconnected:
            pass  # the next mail opens a new connection

    def _set_timeout(self, seconds: float) -> None:
        if self.sock is not None:
            self.sock.settimeout(seconds)

    def _option_list(self, options: Sequence[str]) -> str:
        return " " + " ".join(options) if options and self.does_esmtp else ""


def _dot_stuffed(message: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2): a leading dot doubled, ended by a lone dot."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's name, with our prefix
    pass


class OutcomeUnknown(PermanentError):
    """The whole message went out but its reply never came: the server may have taken it, so it must
    not be sent again (the dispatcher records it sent, unconfirmed; anything else gives it up)."""


class SmtpConfigurationError(TransientError):
    """The SMTP server does not offer what the settings ask (STARTTLS, AUTH) or refuses our login:
    every mail would fail alike, so they are retried until the server or the settings are fixed."""


class HardBounce(PermanentError):
    """The server refused the recipient for good: the address takes no mail (RFC 5321 5xx)."""


# Enhanced status codes (RFC 3463) of a 5xx that blame the mailbox itself: 5.1.x a bad address,
# 5.2.1 a disabled mailbox. The others blame our sending, the message or the server (5.7.x: relay
# denied, block lists, DMARC; 5.2.2 a full mailbox; 5.3 to 5.6): the mail fails, the address stays.
DEAD_MAILBOX = re.compile(r"^5\.(1\.\d{1,3}|2\.1)\b")
ENHANCED_CODE = re.compile(r"^\d\.\d{1,3}\.\d{1,3}\b")
# Without an enhanced code, the replies to RCPT that RFC 5321 gives to a mailbox taking no mail.
DEAD_MAILBOX_AT_RCPT = frozenset({550, 551, 553})


def _classify(code: int, text: bytes | str, *, stage: str = "") -> Exception:
    """4xx: try again later. 5xx: give up; a hard bounce only when it says the mailbox takes no mail,
    at RCPT or at DATA of our one-recipient transactions (`stage` "rcpt" or "data")."""
    reply = _text(text)
    if 400 <= code < 500:
        return TransientError(f"SMTP {code} {reply}")
    if stage and _blames_the_mailbox(code, reply.strip(), at_rcpt=stage == "rcpt"):
        return HardBounce(f"SMTP {code} {reply}")
    return PermanentError(f"SMTP {code} {reply}")


# A server's reply is anybody's text: a control character (NUL cannot be stored in PostgreSQL, an
# escape sequence has no place in a log) becomes a space; the lines of a multi-line reply stay.
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return CONTROL_CHARACTERS.sub(" ", text)


def _blames_the_mailbox(code: int, reply: str, *, at_rcpt: bool) -> bool:
    if ENHANCED_CODE.match(reply):
        return bool(DEAD_MAILBOX.match(reply))
    return at_rcpt and code in DEAD_MAILBOX_AT_RCPT


class SmtpSender:
    """Sends messages over one reused connection (one lane of a worker), reconnecting when dropped."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        final_reply_timeout: float = FINAL_REPLY_TIMEOUT_S,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {SECURITY_MODES}, got {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.final_reply_timeout = final_reply_timeout
        self._smtp: _SMTP | None = None

    def send(self, email: OutgoingEmail) -> None:
        """Hand the email to the server; TransientError to retry later, PermanentError to give up.
        A connection lost before the end of the message is opened again and the email sent once more;
        lost after it, OutcomeUnknown."""
        options = ["SMTPUTF8"] if email.needs_smtputf8 else []
        for attempt in (1, 2):
            try:
                connection = self._connection()
                if options and not connection.has_extn("smtputf8"):
                    raise PermanentError(
                        f"the SMTP server does not offer SMTPUTF8, needed for the address {email.recipient}"
                    )
                connection.sendmail(email.sender, [email.recipient], email.raw, mail_options=options)
                return
            except smtplib.SMTPRecipientsRefused as refused:
                code, text = next(iter(refused.recipients.values()))
                raise _classify(code, text, stage="rcpt") from None
            except smtplib.SMTPDataError as error:
                raise _classify(error.smtp_code, error.smtp_error, stage="data") from None
            except smtplib.SMTPResponseException as error:
                raise _classify(error.smtp_code, error.smtp_error) from None
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                handed_over = self._smtp is not None and self._smtp.message_handed_over
                self.close()
                if handed_over:
                    raise OutcomeUnknown(
                        f"SMTP connection lost after the whole message was sent ({error}): it may have "
                        "been delivered, so it is not sent again"
                    ) from None
                if attempt == 2:
                    raise TransientError(f"SMTP connection failed: {error}") from None
                log.info("SMTP connection lost (%s); reconnecting", error)

    def close(self) -> None:
        """Say QUIT if the connection still answers, then forget it."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connection(self) -> _SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> _SMTP:
        smtp: _SMTP
        if self.security == "tls":
            smtp = _SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = _SMTP(self.host, self.port, timeout=self.timeout)
        try:
            self._secure_and_log_in(smtp)
        except BaseException:
            smtp.close()
            raise
        smtp.final_reply_timeout = self.final_reply_timeout
        return smtp

    def _secure_and_log_in(self, smtp: _SMTP) -> None:
        """STARTTLS and AUTH as the settings ask, after EHLO; SmtpConfigurationError when the server
        does not offer them or refuses the login."""
        if self.security == "starttls":  # a context only then: loading the CA store costs milliseconds
            self._require(smtp, "starttls", "STARTTLS, which SMTP_SECURITY=starttls asks for")
            smtp.starttls(context=ssl.create_default_context())
        if self.username:
            self._require(smtp, "auth", "AUTH, which SMTP_USERNAME asks for")
            try:
                smtp.login(self.username, self.password)
            except smtplib.SMTPAuthenticationError as error:
                raise SmtpConfigurationError(
                    f"the SMTP server {self.host}:{self.port} refused the login of SMTP_USERNAME: "
                    f"{error.smtp_code} {_text(error.smtp_error)}"
                ) from None
        smtp.ehlo_or_helo_if_needed()

    def _require(self, smtp: _SMTP, extension: str, what: str) -> None:
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn(extension):
            raise SmtpConfigurationError(f"the SMTP server {self.host}:{self.port} does not offer {what}")
