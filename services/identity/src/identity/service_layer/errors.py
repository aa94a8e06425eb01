"""What the use cases refuse, for the entrypoints to turn into problem responses."""

from identity.domain.codes import CodeOutcome


class WeakPassword(Exception):
    """The password breaks the policy; `violations` lists every broken rule."""

    def __init__(self, violations: list[str]) -> None:
        super().__init__("; ".join(violations))
        self.violations = violations


class CodeRejected(Exception):
    """The submitted code does not verify; `outcome` says why. `retry_after_s`: the email's code entry
    is locked (too many wrong codes today) for that long, whatever the code."""

    def __init__(self, outcome: CodeOutcome, retry_after_s: int | None = None) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.retry_after_s = retry_after_s


class RateLimited(Exception):
    """Too many requests in the bucket's window; try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class InvalidCredentials(Exception):
    """Unknown email or wrong password (deliberately not saying which)."""


class WrongPassword(Exception):
    """The password given to confirm an action on one's own account is not right."""


class NotVerified(Exception):
    """The password is right but the account has not been verified yet."""


class Unauthenticated(Exception):
    """No valid access token: missing, malformed, expired, revoked, or of a deleted account."""


class InvalidResetToken(Exception):
    """The reset token is unknown, already used or expired."""


class UnknownAccount(Exception):
    """No (verified, where roles are concerned) account has this email."""


class StaffAccount(Exception):
    """Support may not erase an account that holds a role: an admin revokes its roles first."""


class LastAdmin(Exception):
    """An admin may not take the admin role from the only account holding it, nor delete that account:
    nobody could open the console's admin pages any more (the command line still can)."""


class MfaRequired(Exception):
    """The password is right, and the account has a second factor: send its code with `challenge`."""

    def __init__(self, challenge: str) -> None:
        super().__init__("mfa required")
        self.challenge = challenge


class ChallengeExpired(Exception):
    """The login challenge is expired, forged, or older than the account's password: log in again."""


class InvalidSecondFactor(Exception):
    """The TOTP or recovery code is not right (or was already used)."""


class TotpAlreadyEnrolled(Exception):
    """The account already has a confirmed second factor."""


class TotpNotStarted(Exception):
    """No TOTP enrolment to confirm: ask for a secret first."""
