"""The "New videos" draft's text: lines added and withdrawn inside the delimited section, the editor's
own text kept, the markers and the titles' Markdown never reaching the mail."""

import uuid

from newsletter.domain.content import render
from newsletter.domain.new_videos import (
    SECTION_END,
    SECTION_START,
    new_bodies,
    retitled,
    title_in,
    video_line,
    video_page,
    with_video,
    without_video,
)

PORTAL = "https://portal.example.org"
FIRST, SECOND = uuid.uuid4(), uuid.uuid4()


def line(video_id: uuid.UUID, title: str) -> str:
    return video_line(title, video_page(PORTAL, video_id))


def test_videos_are_listed_in_order_and_rendered_as_links_without_the_markers():
    body = with_video(
        with_video(new_bodies()["en"], FIRST, line(FIRST, "Summit")), SECOND, line(SECOND, "Press")
    )
    mail = render("New videos", body)
    assert mail.html == (
        "<p>New on the portal:</p>\n<ul>\n"
        f'<li><a href="{PORTAL}/videos/{FIRST}" rel="noopener noreferrer">Summit</a></li>\n'
        f'<li><a href="{PORTAL}/videos/{SECOND}" rel="noopener noreferrer">Press</a></li>\n</ul>\n'
    )
    assert mail.text == (
        f"New on the portal:\n\n- Summit <{PORTAL}/videos/{FIRST}>\n\n- Press <{PORTAL}/videos/{SECOND}>\n"
    )


def test_a_video_already_listed_is_not_listed_twice():
    once = with_video(new_bodies()["fr"], FIRST, line(FIRST, "Sommet"))
    assert with_video(once, FIRST, line(FIRST, "Sommet")) == once
    assert once.count(f"/videos/{FIRST})") == 1


def test_a_withdrawn_video_leaves_the_list_and_the_rest_stays():
    body = with_video(
        with_video(new_bodies()["en"], FIRST, line(FIRST, "Summit")), SECOND, line(SECOND, "Press")
    )
    withdrawn = without_video(body, FIRST)
    assert f"/videos/{FIRST}" not in withdrawn
    assert line(SECOND, "Press") in withdrawn
    assert without_video(withdrawn, FIRST) == withdrawn
    assert without_video(without_video(withdrawn, SECOND), SECOND) == new_bodies()["en"]


def test_the_editors_text_around_and_inside_the_section_is_kept():
    body = with_video(new_bodies()["en"], FIRST, line(FIRST, "Summit"))
    edited = (
        body.replace("New on the portal:", "# December\n\nHello *readers*, this month:")
        .replace("[Summit]", "[The summit, in full]")
        .replace(SECTION_END, "- My own pick: [the archive](https://archive.example.org)\n\n" + SECTION_END)
        + "\nSee you *soon*.\n"
    )
    added = with_video(edited, SECOND, line(SECOND, "Press"))
    assert added.startswith("# December\n\nHello *readers*, this month:\n\n" + SECTION_START)
    assert added.endswith(SECTION_END + "\n\nSee you *soon*.\n")
    assert "[The summit, in full]" in added and "- My own pick: [the archive]" in added
    assert added.index("My own pick") < added.index(f"/videos/{SECOND}") < added.index(SECTION_END)
    withdrawn = without_video(added, FIRST)
    assert f"/videos/{FIRST}" not in withdrawn
    assert withdrawn.replace("\n", "") == added.replace(
        f"- [The summit, in full]({PORTAL}/videos/{FIRST})", ""
    ).replace("\n", "")
    mail = render("New videos", added)
    assert "See you" in mail.text and "[//]" not in mail.text and "[//]" not in mail.html


def test_a_deleted_section_comes_back_at_the_end_with_the_next_video():
    written = "All my own words."
    added = with_video(written, FIRST, line(FIRST, "Summit"))
    assert added == f"{written}\n\n{SECTION_START}\n\n{line(FIRST, 'Summit')}\n\n{SECTION_END}\n"
    assert without_video(written, FIRST) == written


def test_a_title_is_text_never_markdown_and_falls_back_to_the_other_language():
    title = "**Bold** [x](javascript:alert(1)) <b>&amp;\nsecond line"
    mail = render("New videos", with_video(new_bodies()["en"], FIRST, line(FIRST, title)))
    assert "<strong>" not in mail.html and "javascript" not in mail.html.split('href="')[1].split('"')[0]
    assert f"- **Bold** [x](javascript:alert(1)) <b>&amp; second line <{PORTAL}/videos/{FIRST}>" in mail.text
    assert (
        line(FIRST, "D-Day: 80 years (part 1).") == f"- [D-Day: 80 years (part 1).]({PORTAL}/videos/{FIRST})"
    )
    assert title_in({"en": "", "fr": "Sommet"}, "en") == "Sommet"
    assert title_in({"en": "Summit", "fr": "Sommet"}, "fr") == "Sommet"


def test_a_new_title_replaces_the_line_written_from_the_old_one_and_an_editors_rewording_stays():
    body = with_video(
        with_video(new_bodies()["en"], FIRST, line(FIRST, "Summit")), SECOND, line(SECOND, "Press")
    )
    renamed = retitled(body, FIRST, line(FIRST, "The *summit*"), written=line(FIRST, "Summit"))
    assert renamed == body.replace(line(FIRST, "Summit"), line(FIRST, "The *summit*"))
    assert "[The \\*summit\\*]" in renamed and line(SECOND, "Press") in renamed
    reworded = body.replace("[Summit]", "[The summit, in full]")
    assert retitled(reworded, FIRST, line(FIRST, "Summit 2"), written=line(FIRST, "Summit")) == reworded
    unknown = retitled(reworded, FIRST, line(FIRST, "Summit 2"))  # what was written is not known
    assert unknown == body.replace(line(FIRST, "Summit"), line(FIRST, "Summit 2"))
    outside = "[Summit](" + video_page(PORTAL, FIRST) + ") above the list\n\n" + body
    assert retitled(outside, FIRST, line(FIRST, "X")).startswith("[Summit](")  # outside the section: kept
    assert retitled(new_bodies()["fr"], FIRST, line(FIRST, "Sommet")) == new_bodies()["fr"]  # not listed
