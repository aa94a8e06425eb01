"""Client of the SMTP sink's HTTP inbox: the accounts test kit's (testkit/), kept importable from here."""

from accounts_testkit.inbox import CODE_PATTERN, Inbox, code_in

__all__ = ["CODE_PATTERN", "Inbox", "code_in"]
