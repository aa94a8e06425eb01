"""What `mkdocs build --strict` (make docs) cannot see: the README sits outside docs/.

The README is the short way in (the rest is the site under docs/), so its links into docs/ must
resolve, anchors included; and the event schemas committed under docs/schemas are each listed on
the event contracts page, which mkdocs would not miss if one were left out.
"""

import re
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
README_MAX_LINES = 200


def relative_links(markdown: str) -> list[str]:
    """The link targets outside code blocks that point into the repository."""
    text = FENCE.sub("", markdown)
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def anchors(page: Path) -> set[str]:
    """The heading ids mkdocs gives a page (Python-Markdown's toc slugify)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slugify(re.sub(r"[`*]", "", title), "-") for title in HEADING.findall(text)}


def test_the_link_finder_sees_links_and_anchors_but_not_code():
    sample = "[a](docs/x.md#part) [b](https://example.org) <http://127.0.0.1/>\n```\n[c](y.md)\n```"
    assert relative_links(sample) == ["docs/x.md#part"]


@pytest.mark.parametrize("target", relative_links(README.read_text(encoding="utf-8")))
def test_every_readme_link_resolves(target):
    path, _, anchor = target.partition("#")
    file = (REPO / path).resolve()
    assert file.is_file(), f"README.md links to {path}, which does not exist"
    if anchor:
        assert file.suffix == ".md", f"README.md: an anchor on a file that is not a page: {target}"
        assert anchor in anchors(file), f"README.md links to #{anchor}, not a heading of {path}"


def test_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move the detail to a page under docs/"
    )


def test_every_committed_schema_is_listed_on_the_event_contracts_page():
    events = (DOCS / "events.md").read_text(encoding="utf-8")
    listed = {target for target in relative_links(events) if target.startswith("schemas/")}
    committed = {f"schemas/{schema.name}" for schema in (DOCS / "schemas").glob("*.json")}
    assert committed - listed == set(), "add these to docs/events.md, under 'The schemas'"


BUILD_FROM_ROOT = re.compile(r"^(?:docker|podman) build .*-f (\S+).* \.$", re.MULTILINE)
COPY = re.compile(r"^COPY (?:--\S+ )*(\S+) \S+$", re.MULTILINE)


def builds_from_the_root() -> list[object]:
    """The Dockerfile of each documented `docker build -f <Dockerfile> … .` (the repository as its
    context), named by its page."""
    return [
        pytest.param(dockerfile, id=f"{page.relative_to(REPO)}:{dockerfile}")
        for page in [README, *sorted(DOCS.rglob("*.md"))]
        for dockerfile in BUILD_FROM_ROOT.findall(page.read_text(encoding="utf-8").replace("\\\n", " "))
    ]


@pytest.mark.parametrize("dockerfile", builds_from_the_root())
def test_every_documented_build_from_the_repository_copies_what_it_holds(dockerfile):
    """A build whose context is the repository finds there every file its Dockerfile copies (for a
    ${SERVICE} source, a service's folder)."""
    sources = COPY.findall((REPO / dockerfile).read_text(encoding="utf-8"))
    expanded = [source.replace("${SERVICE}", "identity") for source in sources]
    assert [source for source in expanded if not (REPO / source).exists()] == []
