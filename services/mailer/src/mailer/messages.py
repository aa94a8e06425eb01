"""Emails rendered from Jinja2 templates: a plain-text and an HTML part, in the configured language."""

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

EVENT_ID_HEADER = "X-Accounts-Event-Id"
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and where replies go."""

    mail_from: str
    reply_to: str

    @property
    def domain(self) -> str:
        """The sender's domain, for Message-ID."""
        return parseaddr(self.mail_from)[1].rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class Content:
    """What one email says."""

    subject: str
    text: str
    html: str


class Templates:
    """Renders `<language>/<kind>.{subject.txt,txt,html}`; a missing variable is an error, not a blank.

    A kind not translated yet into the configured language falls back to English.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._env = Environment(
            loader=PackageLoader("mailer", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, context: Mapping[str, Any]) -> Content:
        """The subject, text and HTML of one kind of email."""
        subject = self._template(f"{kind}.subject.txt").render(context).strip()
        text = self._template(f"{kind}.txt").render(context)
        html = self._template(f"{kind}.html").render(subject=subject, **context)
        return Content(subject, text, html)

    def _template(self, name: str):  # type: ignore[no-untyped-def]
        return self._env.select_template([f"{self.language}/{name}", f"{FALLBACK_LANGUAGE}/{name}"])


def build_message(
    envelope: Envelope,
    recipient: str,
    content: Content,
    *,
    event_id: str,
    extra_headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message with the headers every mail carries."""
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = envelope.mail_from
    message["To"] = recipient
    message["Reply-To"] = envelope.reply_to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=envelope.domain)
    message[EVENT_ID_HEADER] = event_id
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message
