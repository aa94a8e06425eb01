"""The mailer's numbered SQL migrations, applied after the shared ones by `mailer migrate`."""

from accounts_common.db import MigrationSet

MAILER_MIGRATIONS = MigrationSet("mailer", "mailer")
