"""Every service's migrations are numbered once each: two files with one number would leave one unapplied."""

import pytest

from accounts_common.db import COMMON_MIGRATIONS, MigrationSet
from catalogue.migrations import CATALOGUE_MIGRATIONS
from identity.migrations import IDENTITY_MIGRATIONS
from mailer.migrations import MAILER_MIGRATIONS
from newsletter.migrations import NEWSLETTER_MIGRATIONS

SETS = [
    COMMON_MIGRATIONS,
    IDENTITY_MIGRATIONS,
    MAILER_MIGRATIONS,
    CATALOGUE_MIGRATIONS,
    NEWSLETTER_MIGRATIONS,
]


@pytest.mark.parametrize("migration_set", SETS, ids=lambda s: s.component)
def test_each_migration_has_a_number_of_its_own(migration_set):
    versions = [version for version, _, _ in migration_set.scripts()]
    assert versions == list(range(1, len(versions) + 1))


def test_two_migrations_with_one_number_are_refused(tmp_path, monkeypatch):
    package = tmp_path / "twice"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("001_first.sql", "002_a.sql", "002_b.sql"):
        (package / "migrations" / name).write_text("SELECT 1;")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"twice: more than one migration numbered \[2\]"):
        MigrationSet("twice", "twice").scripts()
