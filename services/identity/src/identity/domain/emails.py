"""Email addresses as people really have them: validated and normalised so one mailbox is one account
(accounts_common.emails, which the other services' look-ups share), and what the OpenAPI document says."""

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from accounts_common.emails import MAX_LENGTH, InvalidEmail, normalise_email

__all__ = ["MAX_LENGTH", "NOT_SPECIAL_USE", "InvalidEmail", "normalise_email"]


def _any_case(word: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else char for char in word)


# For the OpenAPI document: what "format: email" does not say, that addresses in the special-use
# domains (RFC 6761: test, localhost, invalid, …) are refused, since no mail can reach them.
NOT_SPECIAL_USE = (
    r"^(?!.*@(?:[^@]*\.)?(?:" + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES) + r")\.?$)"
)
