"""The "New videos" draft's text: each published video as a Markdown list item linking to the portal's
video page, in a delimited section of each language's body.

The section lies between two Markdown "comments" (link reference definitions, which CommonMark
renders as nothing, in the HTML and the text part alike; raw HTML comments would be shown as text,
the renderer keeping raw HTML off). Videos are added and withdrawn one line at a time inside it,
so whatever an editor wrote — around the section, and inside it (a reworded title, a line of their
own) — stays. A video's new title replaces the line written from its old one, not an editor's
rewording of it. An editor who deletes the section gets a new one at the end with the next video.
"""

from uuid import UUID

from newsletter.domain.content import LANGUAGES

SECTION_START = "[//]: # (New videos: each video published is added below, each one withdrawn removed.)"
SECTION_END = "[//]: # (End of the new videos.)"
SUBJECTS = {"en": "New videos", "fr": "Nouvelles vidéos"}
INTRODUCTIONS = {"en": "New on the portal:", "fr": "Nouveautés sur le portail :"}
# The characters that start inline Markdown inside a link's text (emphasis, code, links, images,
# autolinks, entities), backslash-escaped: a title stays plain text and the editor still reads it.
_MARKDOWN_PUNCTUATION = str.maketrans({char: "\\" + char for char in "\\`*_[]<>&"})


def video_page(portal_url: str, video_id: UUID) -> str:
    return f"{portal_url}/videos/{video_id}"


def new_bodies() -> dict[str, str]:
    """A new draft's bodies: an introduction the editor may rewrite, and the empty section."""
    return {
        language: f"{INTRODUCTIONS[language]}\n\n{SECTION_START}\n\n{SECTION_END}\n" for language in LANGUAGES
    }


def title_in(titles: dict[str, str], language: str) -> str:
    """The title in `language`, else in the other one (a video may be titled in one language only)."""
    for candidate in (language, *LANGUAGES):
        if (titles.get(candidate) or "").strip():
            return " ".join(titles[candidate].split())
    return ""


def video_line(title: str, page: str) -> str:
    """The list item of one video; its title escaped, so that it is never read as Markdown."""
    return f"- [{title.translate(_MARKDOWN_PUNCTUATION) or page}]({page})"


def with_video(body: str, video_id: UUID, line: str) -> str:
    """The body with the video's line at the end of the section, unless the section already has it."""
    before, lines, after = _split(body)
    if any(_links_to(existing, video_id) for existing in lines):
        return body
    return _join(before, [*lines, line], after)


def without_video(body: str, video_id: UUID) -> str:
    """The body without the video's lines in the section (the editor's text elsewhere is left alone)."""
    before, lines, after = _split(body)
    kept = [line for line in lines if not _links_to(line, video_id)]
    return body if kept == lines else _join(before, kept, after)


def retitled(body: str, video_id: UUID, line: str, written: str | None = None) -> str:
    """The body with the video's line in the section now `line`: the line as it was `written` (one an
    editor reworded stays theirs), or any of the video's lines when what was written is not known."""
    before, lines, after = _split(body)
    changed = [
        line if _links_to(existing, video_id) and written in (None, existing) else existing
        for existing in lines
    ]
    return body if changed == lines else _join(before, changed, after)


def _links_to(line: str, video_id: UUID) -> bool:
    return f"/videos/{video_id})" in line


def _split(body: str) -> tuple[str, list[str], str]:
    """The text before the section, the section's lines, the text after it; a body without a whole
    section is all "before", with an empty section to come after it."""
    start = body.find(SECTION_START)
    end = body.find(SECTION_END, start + len(SECTION_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        return body, [], ""
    inside = body[start + len(SECTION_START) : end].strip("\n")
    return body[:start], inside.split("\n") if inside else [], body[end + len(SECTION_END) :]


def _join(before: str, lines: list[str], after: str) -> str:
    """Blank lines around each marker: a reference definition cannot interrupt a paragraph or a list."""
    head = before.rstrip("\n") + "\n\n" if before.strip() else ""
    inside = "\n\n" + "\n".join(lines).strip("\n") + "\n\n" if "".join(lines).strip() else "\n\n"
    tail = "\n\n" + after.lstrip("\n") if after.strip() else "\n"
    return head + SECTION_START + inside + SECTION_END + tail
