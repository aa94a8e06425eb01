"""Email addresses as people really have them: validated and normalised so one mailbox is one account."""

import unicodedata

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

MAX_LENGTH = 254


def _any_case(word: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else char for char in word)


# For the OpenAPI document: what "format: email" does not say, that addresses in the special-use
# domains (RFC 6761: test, localhost, invalid, …) are refused, since no mail can reach them.
NOT_SPECIAL_USE = (
    r"^(?!.*@(?:[^@]*\.)?(?:" + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES) + r")\.?$)"
)


class InvalidEmail(ValueError):
    """Not an address we can mail; the message says why."""


def normalise_email(raw: str) -> str:
    """The one spelling of a mailbox: trimmed, NFC, the domain in Unicode (UTS-46, so an IDNA
    A-label and its U-label are one address), the local part lower-cased.

    Control and invisible format characters (zero-width spaces and joiners, direction marks) are
    refused rather than silently dropped.
    """
    value = raw.strip()
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in value):
        raise InvalidEmail("The email address contains control or invisible characters.")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        raise InvalidEmail(str(error)) from None
    normalised = f"{checked.local_part.lower()}@{checked.domain}"
    if len(normalised) > MAX_LENGTH:
        raise InvalidEmail(f"The email address is longer than {MAX_LENGTH} characters.")
    return normalised
