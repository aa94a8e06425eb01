"""The services' problems as messages next to the form fields they concern, in the page's language."""

from datetime import timedelta

from flask_babel import format_timedelta, gettext, lazy_gettext

from accounts_common.inputguard import DATE_OUT_OF_RANGE, MAX_YEAR, MIN_YEAR
from portal.adapters.http import ApiError

FORM = "_form"
CREDENTIALS = {"email": "email", "password": "password", "totp": "totp"}
CODE = {"code": "code"}
EMAIL = {"email": "email"}

# Identity's wording of the password policy and of malformed input, and the services' input guard's
# of a date out of the years they take, translated for the page.
API_MESSAGES = {
    "Use at least 12 characters.": lazy_gettext("Use at least 12 characters."),
    "Use at least 8 characters.": lazy_gettext("Use at least 8 characters."),
    "Use at most 128 characters.": lazy_gettext("Use at most 128 characters."),
    "Do not use spaces.": lazy_gettext("Do not use spaces."),
    "Include an uppercase letter.": lazy_gettext("Include an uppercase letter."),
    "Include a lowercase letter.": lazy_gettext("Include a lowercase letter."),
    "Include a number.": lazy_gettext("Include a number."),
    "Include a symbol, such as ! ? # or %.": lazy_gettext("Include a symbol, such as ! ? # or %."),
    "This password is too common; choose another.": lazy_gettext(
        "This password is too common; choose another."
    ),
    "Not a valid email address.": lazy_gettext("Enter a valid email address, like name@example.org."),
    "Missing data for required field.": lazy_gettext("This field is required."),
    DATE_OUT_OF_RANGE: lazy_gettext(
        "Enter a date in the years %(first)s to %(last)s.", first=MIN_YEAR, last=MAX_YEAR
    ),
}
# Any other wording (email-validator's, a schema's "Length must be between 1 and 128.") is not for a
# person to read: the field gets its own plain message instead, in the page's language.
FIELD_MESSAGES = {
    "email": lazy_gettext("Enter a valid email address, like name@example.org."),
    "password": lazy_gettext("Enter a password."),
    "new_password": lazy_gettext("Enter a password."),
    "code": lazy_gettext("Enter the 6-digit code from the email."),
    "totp": lazy_gettext("Enter the six digits your authenticator app shows, or one of your recovery codes."),
}
OTHER_FIELD = lazy_gettext("Check this field and try again.")
# The services' input guard names the control character it found: text pasted from another program.
CONTROL_CHARACTER = "Contains the control character"
INVISIBLE_CHARACTERS = lazy_gettext(
    "Remove the invisible characters in this text (often pasted from another program), then try again."
)


def _problem_messages() -> dict[str, tuple[str, str]]:
    """Problem slug → (the API field it concerns, message)."""
    return {
        "invalid-code": ("code", gettext("This code is not right. Check the email and try again.")),
        "code-expired": ("code", gettext("This code has expired. Ask for a new code.")),
        "code-locked": (
            "code",
            gettext("Too many wrong tries: this code no longer works. Ask for a new code."),
        ),
        "invalid-credentials": ("password", gettext("The email or password is not right.")),
        "account-not-verified": (
            "email",
            gettext("This account is not verified yet. Create an account again to receive a new code."),
        ),
        "wrong-password": ("password", gettext("The password is not right.")),
        "invalid-second-factor": (
            "totp",
            gettext("This code is not right. Enter the code your app shows now."),
        ),
        "totp-already-enrolled": (FORM, gettext("Two-step verification is already set up for this account.")),
        "totp-not-started": (FORM, gettext("Start setting up two-step verification again.")),
        "invalid-reset-token": (FORM, gettext("This password reset has expired. Please start again.")),
        "rate-limited": (FORM, gettext("Too many attempts. Please wait a few minutes and try again.")),
        "staff-account": (
            FORM,
            gettext("This account holds staff roles: an admin revokes them before it can be erased."),
        ),
        "last-admin": (
            FORM,
            gettext("This is the only admin: grant the admin role to someone else first."),
        ),
    }


def field_errors(error: ApiError, form_fields: dict[str, str]) -> dict[str, list[str]]:
    """{form field: [messages]} for a 4xx problem; `form_fields` maps the API's fields to the form's.

    A message about anything the form does not show goes to the top of the form.
    """
    if (locked := _code_entry_locked(error)) is not None:
        return {form_fields.get("code", FORM): [locked]}
    known = _problem_messages()
    if error.slug in known:
        field, message = known[error.slug]
        return {form_fields.get(field, FORM): [message]}
    errors: dict[str, list[str]] = {}
    for name, messages in error.errors.items():
        translated = [_plain_message(name, message) for message in messages]
        shown = errors.setdefault(form_fields.get(name, FORM), [])
        shown.extend(message for message in dict.fromkeys(translated) if message not in shown)
    return errors or {FORM: [gettext("The request could not be completed. Check the form and try again.")]}


def _code_entry_locked(error: ApiError) -> str | None:
    """For the email's code entry locked for the day (a new code would not help): when to come back."""
    wait = error.members.get("retry_after")
    if error.slug != "code-locked" or not isinstance(wait, int) or wait <= 0:
        return None
    when = format_timedelta(timedelta(seconds=wait), threshold=1, add_direction=True)
    return gettext(
        "Too many wrong codes for this address: no code works for now. Try again %(when)s.", when=when
    )


def _plain_message(field: str, message: str) -> str:
    """A service's message about `field` as a person reads it, in the page's language."""
    if message.startswith(CONTROL_CHARACTER):
        return str(INVISIBLE_CHARACTERS)
    return str(API_MESSAGES.get(message, FIELD_MESSAGES.get(field, OTHER_FIELD)))
