"""A mail's HTML shown inside a page of the portal (the console's preview of an issue)."""

from html.parser import HTMLParser

DEEPEST_HEADING = 6


def headings_under(html: str, level: int) -> str:
    """`html` with its headings moved below a heading of `level` of the page it is shown in: its h1
    becomes h{level + 1}, and so on down, h6 at the deepest. Shown as it is, a mail's h1 would sit in
    the page's outline as a second title of the page, and its h2 beside the page's own sections, for
    whoever moves from heading to heading. Only tags move, read by a parser: a heading's tag written
    in an attribute's value (a link's title) is text and stays."""
    finder = _HeadingTags()
    finder.feed(html)
    finder.close()
    moved = list(html)
    for at, depth in finder.found:
        moved[at] = str(min(depth + level, DEEPEST_HEADING))
    return "".join(moved)


class _HeadingTags(HTMLParser):
    """Where the level digit of each heading tag, opening or closing, is in the text fed, and its level."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, int]] = []
        self._line_starts = [0]

    def feed(self, data: str) -> None:
        self._line_starts = [0] + [at + 1 for at, char in enumerate(data) if char == "\n"]
        super().feed(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._heading(tag, len("<h"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._heading(tag, len("<h"))

    def handle_endtag(self, tag: str) -> None:
        self._heading(tag, len("</h"))

    def _heading(self, tag: str, digit_offset: int) -> None:
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            line, column = self.getpos()
            self.found.append((self._line_starts[line - 1] + column + digit_offset, int(tag[1])))
