"""SMTP delivery over one reused connection, with failures sorted into passing and permanent."""

import logging
import re
import smtplib
import ssl
from collections.abc import Sequence

from accounts_common.retry_policy import PermanentError, TransientError
from mailer.domain.messages import OutgoingEmail

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "tls")


class _SMTP(smtplib.SMTP):
    """MAIL FROM and RCPT TO with the addresses as they are: smtplib parses each one again to quote
    it (email.utils.parseaddr, a fifth of a lane's CPU per email), while ours are bare addresses
    already checked (the event schema, email-validator, build_message)."""

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if self.does_esmtp and any(option.lower() == "smtputf8" for option in options):
            if not self.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
            self.command_encoding = "utf-8"
        self.putcmd("mail", f"FROM:<{sender}>{self._option_list(options)}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.putcmd("rcpt", f"TO:<{recip}>{self._option_list(options)}")
        return self.getreply()

    def _option_list(self, options: Sequence[str]) -> str:
        return " " + " ".join(options) if options and self.does_esmtp else ""


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's name, with our prefix
    pass


class HardBounce(PermanentError):
    """The server refused the recipient for good: the address takes no mail (RFC 5321 5xx)."""


# Enhanced status codes (RFC 3463) of a 5xx that blame the message, the server or the conversation,
# not the mailbox: 5.3.x system, 5.5.x protocol, 5.6.x content. Anything else is the recipient's.
NOT_THE_RECIPIENT = re.compile(r"^5\.[356]\.\d{1,3}\b")


def _classify(code: int, text: bytes | str, *, recipient_stage: bool = False) -> Exception:
    """4xx: try again later. 5xx: give up; a hard bounce when it is the recipient's (refused at RCPT,
    or at DATA of our one-recipient transactions unless its enhanced code blames something else)."""
    reply = text.decode(errors="replace") if isinstance(text, bytes) else text
    if 400 <= code < 500:
        return TransientError(f"SMTP {code} {reply}")
    if recipient_stage and not NOT_THE_RECIPIENT.match(reply.strip()):
        return HardBounce(f"SMTP {code} {reply}")
    return PermanentError(f"SMTP {code} {reply}")


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
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {SECURITY_MODES}, got {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._smtp: smtplib.SMTP | None = None

    def send(self, email: OutgoingEmail) -> None:
        """Hand the email to the server; TransientError to retry later, PermanentError to give up."""
        options = ["SMTPUTF8"] if email.needs_smtputf8 else []
        for attempt in (1, 2):
            try:
                self._connection().sendmail(email.sender, [email.recipient], email.raw, mail_options=options)
                return
            except smtplib.SMTPNotSupportedError:
                raise PermanentError(
                    f"the SMTP server does not offer SMTPUTF8, needed for the address {email.recipient}"
                ) from None
            except smtplib.SMTPRecipientsRefused as refused:
                code, text = next(iter(refused.recipients.values()))
                raise _classify(code, text, recipient_stage=True) from None
            except smtplib.SMTPDataError as error:
                raise _classify(error.smtp_code, error.smtp_error, recipient_stage=True) from None
            except smtplib.SMTPResponseException as error:
                raise _classify(error.smtp_code, error.smtp_error) from None
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                self.close()
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

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = _SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = _SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":  # a context only then: loading the CA store costs milliseconds
                smtp.starttls(context=ssl.create_default_context())
        if self.username:
            smtp.login(self.username, self.password)
        return smtp
