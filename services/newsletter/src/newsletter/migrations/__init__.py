"""The newsletter's numbered SQL migrations, applied after the shared ones by `newsletter migrate`."""

from accounts_common.db import MigrationSet

NEWSLETTER_MIGRATIONS = MigrationSet("newsletter", "newsletter")
