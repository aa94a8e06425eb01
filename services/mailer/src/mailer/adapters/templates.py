"""Jinja2 templates an email's content is rendered from, per language (`templates/<language>/`)."""

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from accounts_common.language_links import in_language
from mailer.domain.messages import FALLBACK_LANGUAGE, Content


class Templates:
    """Renders `<language>/<kind>.{subject.txt,txt,html}`; a missing variable is an error, not a blank.

    The language is the recipient's (the event's optional `locale`), else the configured one, else
    English; a kind not translated into that language falls back the same way. `{{ url | in_language }}`
    is a portal link that opens the portal in the mail's language.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._env = Environment(
            loader=PackageLoader("mailer", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # templates ship with the package: no stat() of three files per email
        )
        self._env.filters["in_language"] = in_mail_language

    def render(self, kind: str, context: Mapping[str, Any], language: str | None = None) -> Content:
        """The subject, text and HTML of one kind of email, in `language` when there are templates for it."""
        languages = [lang for lang in (language, self.language, FALLBACK_LANGUAGE) if lang and lang.isalpha()]
        text_template = self._template(languages, f"{kind}.txt")
        context = {**context, "mail_language": text_template.name.split("/")[0]}
        subject = self._template(languages, f"{kind}.subject.txt").render(context).strip()
        text = text_template.render(context)
        html = self._template(languages, f"{kind}.html").render(subject=subject, **context)
        return Content(subject, text, html)

    def _template(self, languages: list[str], name: str):  # type: ignore[no-untyped-def]
        return self._env.select_template([f"{language}/{name}" for language in languages])


@pass_context
def in_mail_language(context: Context, url: str) -> str:
    """The link with the mail's language as its `lang`, which the portal takes as the page's language."""
    return in_language(url, context["mail_language"])
