"""The portal read in French: its catalogue's typography, counts in the singular or the plural and
grouped the page's way, the console's words in the page's language (and the services' English marked
as English), and the language switch of the newsletter's link page."""

import html
import re

from babel.messages.pofile import read_po

from tests.unit.test_portal import (
    SOURCE,
    AdminAndSupportIdentity,
    EditorIdentity,
    FakeCatalogue,
    FakeMailer,
    FakeStaffDirectory,
    SentIssue,
    SupportStaffIdentity,
    csrf_token,
    portal_client,
    staff_client,
)
from tests.unit.test_portal_console_videos import VIDEO_PAGE, Removals
from tests.unit.test_portal_edges import LinkNewsletter

FRENCH = {"Accept-Language": "fr"}


def switch_of(page) -> str:  # type: ignore[no-untyped-def]
    """Where the page's language switch goes (its `next`, as the browser sends it)."""
    return html.unescape(re.search(r'name="next" value="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]


def test_the_french_catalogue_writes_its_apostrophes_as_the_rest_of_it_does():
    with (SOURCE / "translations/fr/LC_MESSAGES/messages.po").open("rb") as po:
        catalogue = read_po(po)
    straight = [
        text
        for message in catalogue
        if message.id
        for text in (message.string if isinstance(message.string, tuple) else [message.string])
        if "'" in text
    ]
    assert straight == []


def test_the_language_switch_of_the_unsubscribe_page_speaks_the_language_chosen():
    """The link carries the subscriber's language; a reader who picks the other one gets it."""
    client = portal_client(fakes={"newsletter": LinkNewsletter()}, config={"TESTING": False})
    english = client.get("/newsletter/unsubscribe?token=genuine&lang=en")
    form = {"csrf_token": csrf_token(client, "/login"), "language": "fr", "next": switch_of(english)}
    switched = client.post("/language", data=form)
    french = client.get(switched.headers["Location"])
    assert french.status_code == 200 and '<html lang="fr">' in french.text
    assert "<h1>Se désabonner de notre lettre d’information</h1>" in french.text
    assert 'action="/newsletter/unsubscribe?token=genuine&amp;lang=fr"' in french.text
    done = client.post(
        "/newsletter/unsubscribe?token=genuine&lang=fr", data={"List-Unsubscribe": "One-Click"}
    )
    back = client.post("/language", data={**form, "language": "en", "next": switch_of(done)})
    assert '<html lang="en">' in client.get(back.headers["Location"]).text


class ThreeLettersMailer(FakeMailer):
    def replay(self, token: str, letter: tuple[int, int] | None = None) -> int:
        super().replay(token, letter)
        return 3 if letter is None else 1


def test_a_replay_says_how_many_dead_letters_went_again_in_the_singular_or_the_plural():
    client = staff_client(SupportStaffIdentity(), mailer=ThreeLettersMailer())
    token = csrf_token(client, "/console/deliveries")
    forms = {
        "one": {"csrf_token": token, "partition": "0", "offset": "7"},
        "all": {"csrf_token": token, "all": "1"},
    }
    said = {}
    for language, headers in (("en", {}), ("fr", FRENCH)):
        for replayed, form in forms.items():
            page = client.post(
                "/console/deliveries/replays", data=form, headers=headers, follow_redirects=True
            )
            notice = re.search(r'class="notice" role="status"[^>]*><p>(.*?)</p>', page.text)
            said[language, replayed] = notice.group(1) if notice else None
    assert said == {
        ("en", "one"): "1 dead letter sent again.",
        ("en", "all"): "3 dead letters sent again.",
        ("fr", "one"): "1 lettre morte renvoyée.",
        ("fr", "all"): "3 lettres mortes renvoyées.",
    }


def test_the_console_names_an_accounts_language_in_the_pages_language():
    """The account looked up is a French one (FakeStaff.ACCOUNT)."""
    client = staff_client(AdminAndSupportIdentity(), staff=FakeStaffDirectory(), mailer=FakeMailer())
    english = client.get("/console/accounts?email=ed@example.org").text
    french = client.get("/console/accounts?email=ed@example.org", headers=FRENCH).text
    assert "<dt>Language</dt><dd>French</dd>" in english
    assert "<dt>Langue</dt><dd>Français</dd>" in french


class PreviewedIssue(SentIssue):
    def preview(self, token: str, texts: object) -> dict[str, object]:
        return {
            language: {"subject": subject, "html": "<p>…</p>", "text": "…"}
            for language, subject in (("en", "Summit"), ("fr", "Sommet"))
        }


def test_the_previews_headings_name_each_language_with_the_pages_punctuation():
    client = staff_client(EditorIdentity(), issues=PreviewedIssue())
    token = csrf_token(client, "/console/newsletter/new")
    form = {
        "csrf_token": token,
        "subject_en": "Summit",
        "body_en": "…",
        "subject_fr": "Sommet",
        "body_fr": "…",
    }
    english = client.post("/console/newsletter/previews", data=form).text
    french = client.post("/console/newsletter/previews", data=form, headers=FRENCH).text
    assert '<h3 id="preview-en">English: Summit</h3>' in english
    assert '<h3 id="preview-fr">French: Sommet</h3>' in english
    assert '<h3 id="preview-en">Anglais : Summit</h3>' in french
    assert '<h3 id="preview-fr">Français : Sommet</h3>' in french


def test_a_sent_issues_failed_mails_are_counted_in_the_plural_in_french():
    client = staff_client(EditorIdentity(), issues=SentIssue())
    for page in (
        client.get("/console/newsletter", headers=FRENCH),
        client.get(f"/console/newsletter/{SentIssue.ISSUE['id']}", headers=FRENCH),
    ):
        assert page.status_code == 200
        assert re.search(r">Échecs<", page.text) and not re.search(r">Échec<", page.text)


class ManyVideos(FakeCatalogue):
    def videos(self, query: str, page: int, language: str = "en") -> dict[str, object]:
        return {**super().videos(query, page, language), "total": 1234}


class ManyRecipients(SentIssue):
    ISSUE = {**SentIssue.ISSUE, "figures": {**SentIssue.FIGURES, "recipients": 12345, "sent": 12345}}


def test_counts_are_written_the_pages_way():
    """Grouped by thousands as each language writes numbers (a narrow no-break space in French)."""
    videos = portal_client(fakes={"catalogue": ManyVideos()})
    assert '<p class="count">1,234 videos</p>' in videos.get("/").text
    assert '<p class="count">1\u202f234 vidéos</p>' in videos.get("/", headers=FRENCH).text
    console = staff_client(EditorIdentity(), issues=ManyRecipients())
    for address in ("/console/newsletter", f"/console/newsletter/{SentIssue.ISSUE['id']}"):
        assert re.search(r'data-figure="recipients">12,345<', console.get(address).text)
        assert re.search(r'data-figure="sent">12\u202f345<', console.get(address, headers=FRENCH).text)


class LastErrorMailer(FakeMailer):
    def deliveries(self, token: str, email: str) -> list[dict[str, object]]:
        return [
            {**mail, "status": "retrying", "last_error": "421 try again later"}
            for mail in super().deliveries(token, email)
        ]


def test_the_services_own_english_words_on_a_french_console_page_are_marked_english():
    """A transcoding failure, a dead letter's reason and a mail's last error are the services' words,
    in English: a screen reader reads them with an English voice on a French page."""
    video = staff_client(EditorIdentity(), editor=Removals("failed")).get(VIDEO_PAGE, headers=FRENCH)
    assert '<span class="failure" data-failure lang="en">ffmpeg failed</span>' in video.text
    letters = staff_client(SupportStaffIdentity(), mailer=FakeMailer()).get(
        "/console/deliveries", headers=FRENCH
    )
    assert '<td lang="en">550</td>' in letters.text
    mails = staff_client(SupportStaffIdentity(), mailer=LastErrorMailer()).get(
        "/console/deliveries?email=p@example.org", headers=FRENCH
    )
    assert '<td lang="en">421 try again later</td>' in mails.text
