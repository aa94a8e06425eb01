"""Email addresses as people really have them: validated and normalised so one mailbox is one account
(identity keeps them so, and every service receives them so in identity's events)."""

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


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


def searched_email(typed: str) -> str:
    """An address searched for (a staff member's look-up), as identity keeps it when it is one: the
    database's lower() (C locale) leaves "É" as it is, and an A-label domain (what a browser's email
    field sends), or an accent typed apart (NFD), is not the text kept. Anything else is kept as typed,
    and matches nobody."""
    try:
        return normalise_email(typed)
    except InvalidEmail:
        return typed
