"""An issue's Markdown as a mail's two parts: sanitised HTML and plain text, from the same source.

The HTML is markdown-it-py's CommonMark rendering with raw HTML off (typed tags come out as text),
then cleaned by nh3 against an allow-list: no script, no style, no event handler, links only to
absolute http(s) and mailto addresses, so whatever an editor (or a stolen editor's token) writes,
the mail carries no active content. The text part walks the same tokens: what the reader of a
text-only client sees.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from accounts_common.language_links import in_language

LANGUAGES = ("en", "fr")
ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "li", "ol", "p", "pre", "strong", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class Rendered:
    """One language of an issue, as it is mailed."""

    subject: str
    html: str
    text: str


def render(subject: str, markdown: str, portal_links: tuple[str, str] | None = None) -> Rendered:
    """The mail of one language: its subject, sanitised HTML and text part. With `portal_links`
    (the portal's address, the mail's language), links into the portal open it in that language."""
    tokens = _markdown.parse(markdown)
    _drop_relative_addresses(tokens)
    if portal_links is not None:
        _open_portal_links_in(tokens, *portal_links)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return Rendered(subject=subject, html=sanitise(html), text=plain_text(tokens))


def _drop_relative_addresses(tokens: list[Token]) -> None:
    """Links and images keep their words but not an address without a scheme (/page, page.html,
    //host, #top): nh3 lets those through, and from a mailbox they lead nowhere (in the console's
    preview, to the portal with the editor's session). Done on the tokens, for both parts alike."""
    for token in tokens:
        for child in token.children or []:
            name = {"link_open": "href", "image": "src"}.get(child.type)
            if name and urlsplit(str(child.attrGet(name) or "")).scheme.lower() not in URL_SCHEMES:
                child.attrs.pop(name, None)


def _open_portal_links_in(tokens: list[Token], portal_url: str, language: str) -> None:
    """Links to the portal's pages carry the mail's language (`lang`), in both parts alike."""
    for token in tokens:
        for child in token.children or []:
            href = str(child.attrGet("href") or "") if child.type == "link_open" else ""
            if href == portal_url or href.startswith((f"{portal_url}/", f"{portal_url}?")):
                child.attrSet("href", in_language(href, language))


def sanitise(html: str) -> str:
    """Only the allow-listed tags, attributes and URL schemes are kept."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def plain_text(tokens: list[Token]) -> str:
    """The text part: paragraphs apart, list items marked, each link's address after its words."""
    blocks: list[str] = []
    prefixes: list[str] = []  # one per open list: "-" or the next number
    items: list[str] = []  # one per open list: the marker of its open item ("2. ")
    item_opened = False  # its first line, which takes the marker, not written yet
    for token in tokens:
        if token.type == "bullet_list_open":
            prefixes.append("-")
            items.append("")
        elif token.type == "ordered_list_open":
            start = token.attrGet("start")  # absent from a list that starts at 1; 0 is a start too
            prefixes.append(str(1 if start is None else int(start)))
            items.append("")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            prefixes.pop()
            items.pop()
        elif token.type == "list_item_open":
            items[-1] = _next_marker(prefixes)
            item_opened = True
        elif token.type == "inline":
            blocks.append(_line_start(items, item_opened) + _inline_text(token.children or []))
            item_opened = False
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
        elif token.type == "hr":
            blocks.append("----")
    return "\n\n".join(blocks).strip() + "\n"


def _next_marker(prefixes: list[str]) -> str:
    marker = prefixes[-1]
    if marker == "-":
        return "- "
    prefixes[-1] = str(int(marker) + 1)
    return marker + ". "


def _line_start(items: list[str], item_opened: bool) -> str:
    """An item's marker before its first line; its later paragraphs under its text, not marked."""
    if not items:
        return ""
    indent = "  " * (len(items) - 1)
    return indent + (items[-1] if item_opened else " " * len(items[-1]))


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []  # the open links' addresses, and where their words start
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content or str(child.attrGet("alt") or ""))
        elif child.type == "link_open":
            links.append((str(child.attrGet("href") or ""), len(parts)))
        elif child.type == "link_close":
            href, start = links.pop()
            words = "".join(parts[start:])
            if href and words not in (href, href.removeprefix("mailto:")):
                parts.append(f" <{href}>")
    return "".join(parts)
