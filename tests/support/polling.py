"""Waiting with a deadline: the accounts test kit's helper (testkit/), kept importable from here."""

from accounts_testkit.polling import wait_for

__all__ = ["wait_for"]
