"""The portal's catalogues as docs/translations.md has people update them."""

import shutil

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tests.unit.test_portal import PORTAL, SOURCE

FRENCH = SOURCE / "translations/fr/LC_MESSAGES/messages.po"


def obsolete_messages(path):  # type: ignore[no-untyped-def]
    with path.open("rb") as po:
        return set(read_po(po).obsolete)


def test_the_documented_extract_and_update_keep_every_french_translation(tmp_path):
    shutil.copytree(SOURCE / "translations/fr", tmp_path / "fr")
    template = tmp_path / "messages.pot"
    pybabel = CommandLineInterface().run
    documented = ["-k", "lazy_gettext", "--no-location", "--sort-output", "--omit-header"]
    pybabel(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(PORTAL / "babel.cfg"),
            *documented,
            "-o",
            str(template),
            str(SOURCE),
        ]
    )
    pybabel(["pybabel", "-q", "update", "-i", str(template), "-d", str(tmp_path), "--width", "110"])
    dropped = obsolete_messages(tmp_path / "fr/LC_MESSAGES/messages.po") - obsolete_messages(FRENCH)
    assert dropped == set()
