"""Identity's numbered SQL migrations, applied after the shared ones by `identity migrate`."""

from accounts_common.db import MigrationSet

IDENTITY_MIGRATIONS = MigrationSet("identity", "identity")
