"""The portal's catalogues as docs/translations.md has people update them: its commands, as written."""

import re
import shlex
import shutil
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from tests.unit.test_portal import SOURCE

REPO = Path(__file__).resolve().parents[2]
FRENCH = SOURCE / "translations/fr/LC_MESSAGES/messages.po"


def documented_commands() -> list[list[str]]:
    """The pybabel commands of the page's shell block, each without the program's name."""
    page = (REPO / "docs/translations.md").read_text()
    found = re.search(r"```sh\n(.*?)```", page, re.S)
    assert found, "docs/translations.md has no sh block"
    lines = found.group(1).replace("\\\n", " ").splitlines()
    return [shlex.split(line)[1:] for line in lines if line.strip()]


def on_copies(command: list[str], template: Path, catalogues: Path) -> list[str]:
    """The command writing the template and the catalogues given, reading the repository's sources."""
    redirected = {"-o": template, "-i": template, "-d": catalogues}
    arguments: list[str] = []
    for before, argument in zip([None, *command], command, strict=False):
        if before in redirected:
            arguments.append(str(redirected[before]))
        elif "/" in argument and (REPO / argument).exists():
            arguments.append(str(REPO / argument))
        else:
            arguments.append(argument)
    return arguments


def obsolete_messages(path: Path) -> set[object]:
    with path.open("rb") as po:
        return set(read_po(po).obsolete)


def test_the_documented_extract_and_update_keep_every_french_translation(tmp_path: Path) -> None:
    shutil.copytree(SOURCE / "translations/fr", tmp_path / "fr")
    commands = documented_commands()
    assert [command[0] for command in commands] == ["extract", "update"]
    template = tmp_path / "messages.pot"
    for command in commands:
        CommandLineInterface().run(["pybabel", "-q", *on_copies(command, template, tmp_path)])
    dropped = obsolete_messages(tmp_path / "fr/LC_MESSAGES/messages.po") - obsolete_messages(FRENCH)
    assert dropped == set()
