"""Every variable a Settings class reads is in docs/operating/settings.md, with the default it has.

test_docs_claims checks the other way round (every variable the docs name is read by something) and
the rate-limit table; this keeps the variable tables whole: a setting added without a row, or a
default changed in the code alone, fails here instead of leaving an operator with a wrong number.
"""

import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from accounts_common.config import FromEnvironment, InsecureKey, is_group, variable_name
from accounts_common.kafka import KafkaLogin
from catalogue.settings import Settings as CatalogueSettings
from identity.settings import RATE_LIMITS
from identity.settings import Settings as IdentitySettings
from mailer.settings import Settings as MailerSettings
from newsletter.settings import Settings as NewsletterSettings
from portal.settings import Settings as PortalSettings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operating" / "settings.md"
SETTINGS: tuple[type[FromEnvironment], ...] = (
    KafkaLogin,
    IdentitySettings,
    MailerSettings,
    CatalogueSettings,
    NewsletterSettings,
    PortalSettings,
)
# `<SERVICE>_REQUEST_LOCK_TIMEOUT_MS` in the docs stands for each service with a database.
WITH_A_DATABASE = ("IDENTITY", "MAILER", "CATALOGUE", "NEWSLETTER")
GIB = re.compile(r"^(\d+) GiB\b")
VALUE = re.compile(r"`([^`]*)`|\b(empty)\b")


class UnsetKey(Exception):
    """A secret key's default: refused outside development, so none to document but in its table."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a variable table: the variables it names, and what its default cell says of each."""

    line: int
    variables: tuple[str, ...]
    defaults: tuple[str | None, ...]  # None: the cell describes the default rather than gives it


def backquoted(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def row_variables(cell: str) -> list[str]:
    return [name for name in backquoted(cell) if re.fullmatch(r"(<SERVICE>|[A-Z])[A-Z0-9_]*", name)]


def cell_defaults(cell: str, count: int) -> list[str | None]:
    """The default of each of `count` variables: the backquoted values (or "empty") in order, where
    `:8002` is the first value on another port; one value for a single variable (what follows in
    brackets is an aside); or a size in GiB. None where the cell describes the default instead."""
    values = ["" if empty else value for value, empty in VALUE.findall(cell)]
    if values and count == 1:
        values = values[:1]
    elif values == [""]:
        values *= count
    if not values:
        size = GIB.match(cell.strip())
        return [str(int(size.group(1)) * 1024**3) if size else None] * count
    first = values[0]
    values = [re.sub(r":\d+$", value, first) if value.startswith(":") else value for value in values]
    return [None if "<" in value else value for value in values]


def expanded(names: list[str], defaults: list[str | None]) -> list[tuple[str, str | None]]:
    """Each variable with its default, `<SERVICE>_…` standing for each service with a database."""
    pairs = []
    for name, default in zip(names, defaults, strict=False):
        services = WITH_A_DATABASE if name.startswith("<SERVICE>_") else ("<SERVICE>",)
        pairs += [(name.replace("<SERVICE>", service), default) for service in services]
    return pairs


def table_rows() -> list[Row]:
    rows = []
    for number, line in enumerate(PAGE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("| `"):
            continue
        cells = line.strip("|").split("|")
        names = row_variables(cells[0])
        if names and len(cells) >= 3:
            defaults = cell_defaults(cells[1], len(names))
            if len(defaults) != len(names):
                rows.append(Row(number, tuple(names), ()))  # reported by the test below
                continue
            pairs = expanded(names, defaults)
            rows.append(Row(number, tuple(name for name, _ in pairs), tuple(value for _, value in pairs)))
    return rows


def fields(cls: type[Any], prefix: str) -> dict[str, Any]:
    """Each variable the settings read (rate limits aside: their own table), with its default: the
    value the field takes when its variable is unset, outside development; UnsetKey for a secret."""
    kinds = typing.get_type_hints(cls)
    found: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        variable, kind = variable_name(item, prefix), kinds[item.name]
        if variable == RATE_LIMITS:
            continue  # test_docs_claims: the rate-limit table gives every limit and its default
        if is_group(item, kind):
            found |= fields(kind, variable)
        elif read := item.metadata.get("read"):
            try:
                found[variable] = read(variable)
            except InsecureKey:
                found[variable] = UnsetKey()
        elif item.default_factory is not dataclasses.MISSING:
            found[variable] = item.default_factory()
        else:
            found[variable] = item.default
    return found


def settings_variables() -> dict[str, Any]:
    """Every Settings class's variables and defaults, read with none of them set."""
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name == "ACCOUNTS_ENV" or any(name in cls.variables() for cls in SETTINGS):
                del os.environ[name]
        found: dict[str, Any] = {}
        for cls in SETTINGS:
            found |= fields(cls, cls.env_prefix)
        return found
    finally:
        os.environ.clear()
        os.environ.update(saved)


def as_documented(value: Any) -> str:
    """How a default is written in the docs: true/false, whole numbers without a decimal point."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


DOCUMENTED = table_rows()
VARIABLES = settings_variables()


def test_the_row_reader_expands_services_ports_and_sizes():
    assert expanded(row_variables("`<SERVICE>_REQUEST_LOCK_TIMEOUT_MS`"), ["2000"]) == [
        (f"{service}_REQUEST_LOCK_TIMEOUT_MS", "2000") for service in WITH_A_DATABASE
    ]
    assert cell_defaults(" `8003`, `newsletter`, empty ", 3) == ["8003", "newsletter", ""]
    assert cell_defaults(" `http://127.0.0.1:8001`, `:8002` ", 2) == [
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8002",
    ]
    assert cell_defaults(" `0` (`make run`, compose, k8s: `1`) ", 1) == ["0"]
    assert cell_defaults(" empty ", 2) == ["", ""]
    assert cell_defaults(" 200 GiB ", 1) == [str(200 * 1024**3)]
    assert cell_defaults(" `<group>-<host name>` ", 1) == [None]


def test_every_row_gives_each_of_its_variables_a_default():
    uneven = [row.line for row in DOCUMENTED if len(row.defaults) != len(row.variables)]
    assert uneven == [], f"docs/operating/settings.md, lines {uneven}: one default per variable"


@pytest.mark.parametrize("variable", sorted(VARIABLES))
def test_every_setting_is_in_a_table_with_its_default(variable):
    rows = [row for row in DOCUMENTED if variable in row.variables and row.defaults]
    assert rows, f"docs/operating/settings.md has no row for {variable} (write it out whole: it is grepped)"
    default = VARIABLES[variable]
    for row in rows:
        documented = row.defaults[row.variables.index(variable)]
        if documented is None or isinstance(default, UnsetKey):
            continue  # described, not given (a key, or a value made from others)
        if isinstance(default, tuple):
            continue  # development keys: their table says they are development values
        assert documented == as_documented(default), (
            f"docs/operating/settings.md, line {row.line}: {variable} defaults to {as_documented(default)!r}"
        )
