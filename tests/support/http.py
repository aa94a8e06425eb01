"""A tiny JSON HTTP client: the accounts test kit's (testkit/), kept importable from here."""

from accounts_testkit.http import call

__all__ = ["call"]
