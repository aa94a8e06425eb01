"""The portal read in French: its catalogue's typography, counts in the singular or the plural, the
console's words in the page's language, and the language switch of the newsletter's link page."""

import html
import re

from babel.messages.pofile import read_po

from tests.unit.test_portal import SOURCE, csrf_token, portal_client
from tests.unit.test_portal_edges import LinkNewsletter


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
