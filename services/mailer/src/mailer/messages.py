"""Emails rendered from Jinja2 templates: a plain-text and an HTML part, in the configured language."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

EVENT_ID_HEADER = "X-Accounts-Event-Id"


@dataclass(frozen=True)
class Envelope:
    """Who a message is from and where replies go."""

    mail_from: str
    reply_to: str


class Templates:
    """Renders `<language>/<kind>.{subject.txt,txt,html}`; a missing variable is an error, not a blank."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._env = Environment(
            loader=PackageLoader("mailer", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of one kind of email."""
        prefix = f"{self.language}/{kind}"
        subject = self._env.get_template(f"{prefix}.subject.txt").render(context).strip()
        text = self._env.get_template(f"{prefix}.txt").render(context)
        html = self._env.get_template(f"{prefix}.html").render(subject=subject, **context)
        return subject, text, html


def build_message(
    envelope: Envelope, recipient: str, content: tuple[str, str, str], *, event_id: str
) -> EmailMessage:
    """A multipart/alternative message with the headers every mail carries."""
    subject, text, html = content
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = envelope.mail_from
    message["To"] = recipient
    message["Reply-To"] = envelope.reply_to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=envelope.mail_from.rsplit("@", 1)[-1].strip(">"))
    message[EVENT_ID_HEADER] = event_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
