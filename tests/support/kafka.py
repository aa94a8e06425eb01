"""Reading topics in tests: the accounts test kit's reader (testkit/), kept importable from here."""

from accounts_testkit.events import TopicReader

__all__ = ["TopicReader"]
