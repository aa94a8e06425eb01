"""What an email is: who sends it under which brand, what it says, and how it goes on the wire
(a plain-text and an HTML part, headers encoded by RFC 2047/6532)."""

import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from functools import cached_property

EVENT_ID_HEADER = "X-Accounts-Event-Id"
CRLF = "\r\n"
MAX_HEADER_VALUE = 900  # RFC 5322 caps a line at 998 characters; longer values are folded
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and where replies go; each derived value worked out once."""

    mail_from: str
    reply_to: str

    @cached_property
    def sender(self) -> str:
        """The sender's bare address, for MAIL FROM."""
        return parseaddr(self.mail_from)[1]

    @cached_property
    def domain(self) -> str:
        """The sender's domain, for Message-ID."""
        return self.sender.rpartition("@")[2] or "localhost"

    @cached_property
    def from_header(self) -> str:
        return _address(self.mail_from)

    @cached_property
    def reply_to_header(self) -> str:
        return _address(self.reply_to)


@dataclass(frozen=True)
class Brand:
    """How a mail in one language names the product: its banner and its sender's display name."""

    product_name: str
    envelope: Envelope


def brands(mail_from: str, reply_to: str, product_names: Mapping[str, str], default: str) -> dict[str, Brand]:
    """One brand per language; the `default` language keeps MAILER_FROM as written, the others send
    from its address under their own product name (quoted or encoded as it needs: a comma in it
    would otherwise split the From header). ValueError when a sender is not a usable address."""
    address = parseaddr(mail_from)[1]
    senders = {language: _named(name, address) for language, name in product_names.items()}
    made = {
        language: Brand(name, Envelope(mail_from if language == default else senders[language], reply_to))
        for language, name in product_names.items()
    }
    for language, brand in made.items():
        for header, value in (("From", brand.envelope.mail_from), ("Reply-To", reply_to)):
            try:
                _address(value)
            except ValueError as error:
                raise ValueError(f"the {language} mails' {header} is unusable: {error}") from None
    return made


@dataclass(frozen=True)
class Content:
    """What one email says."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class OutgoingEmail:
    """A composed email: the SMTP envelope and the message as it goes on the wire (CRLF lines)."""

    sender: str
    recipient: str
    message_id: str
    raw: bytes

    @property
    def needs_smtputf8(self) -> bool:
        """True when an address is not ASCII: only a server offering SMTPUTF8 (RFC 6531) can take it."""
        return not (self.sender + self.recipient).isascii()


def build_message(
    envelope: Envelope,
    recipient: str,
    content: Content,
    *,
    event_id: str,
    extra_headers: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """A multipart/alternative email (text and HTML, quoted-printable) with the headers every mail carries."""
    # Written out directly rather than with the email package's classes: for our one fixed shape
    # they cost more than the SMTP conversation itself (measured by bench/mailer_throughput.py).
    message_id = make_msgid(domain=envelope.domain)
    boundary = f"=_{secrets.token_hex(16)}"
    headers = {
        "Subject": _header(content.subject),
        "From": envelope.from_header,
        "To": _address(recipient),
        "Reply-To": envelope.reply_to_header,
        "Date": formatdate(localtime=False, usegmt=True),
        "Message-ID": message_id,
        EVENT_ID_HEADER: event_id,
        # RFC 3834: sent by a machine, so vacation and other responders do not answer it.
        "Auto-Submitted": "auto-generated",
        **{name: _header(value) for name, value in (extra_headers or {}).items()},
        "MIME-Version": "1.0",
        "Content-Type": f'multipart/alternative; boundary="{boundary}"',
    }
    lines = [f"{name}: {value}" for name, value in headers.items()] + [""]
    for subtype, body in (("plain", content.text), ("html", content.html)):
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            _quoted_printable(body),
        ]
    lines += [f"--{boundary}--", ""]
    # ASCII but for a non-ASCII address, which RFC 6532 carries as UTF-8 in the headers (SMTPUTF8).
    raw = CRLF.join(lines).encode("utf-8")
    return OutgoingEmail(envelope.sender, recipient, message_id, raw)


def _quoted_printable(text: str) -> str:
    """The text's UTF-8 bytes as quoted-printable lines (none longer than 76), CRLF-separated."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
    return encoded.replace("\n", CRLF)


def _header(value: str) -> str:
    """A header value, RFC 2047-encoded when it is not plain ASCII; line breaks are refused."""
    if "\r" in value or "\n" in value:
        raise ValueError("a header value must be one line")
    if value.isascii() and len(value) <= MAX_HEADER_VALUE:
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep=CRLF)


def _address(value: str) -> str:
    """An address header with its display name encoded when needed; a non-ASCII address stays UTF-8."""
    name, address = parseaddr(value)
    if "\r" in value or "\n" in value or "@" not in address:
        raise ValueError(f"not an email address: {value!r}")
    return _named(name, address)


def _named(name: str, address: str) -> str:
    """`address` under the display name `name`, quoted or RFC 2047-encoded as it needs (a comma in it
    would split the header); the address as it is, UTF-8 when it is not ASCII (RFC 6532)."""
    if not name:
        return address
    # formataddr refuses a non-ASCII address: the name is formatted beside a stand-in one.
    return formataddr((name, "x@x"), charset="utf-8").removesuffix(" <x@x>") + f" <{address}>"
