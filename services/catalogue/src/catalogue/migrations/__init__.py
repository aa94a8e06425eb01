"""The catalogue's numbered SQL migrations, applied after the shared ones by `catalogue migrate`."""

from accounts_common.db import MigrationSet

CATALOGUE_MIGRATIONS = MigrationSet("catalogue", "catalogue")
