"""The portal read in French: its catalogue's typography, counts in the singular or the plural, the
console's words in the page's language, and the language switch of the newsletter's link page."""

from babel.messages.pofile import read_po

from tests.unit.test_portal import SOURCE


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
