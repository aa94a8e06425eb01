"""String fields and patterns of request and event schemas, as the input guard and the documents read them."""

from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields, validate

FREE_TEXT = "x-free-text"


class FreeText(fields.String):
    """A string where people write lines (a description, an issue's Markdown): tab, CR and newline
    pass the guard here and nowhere else. Marked `x-free-text: true` in the OpenAPI document."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {**kwargs.pop("metadata", {}), FREE_TEXT: True}
        super().__init__(metadata=metadata, **kwargs)


class WholeMatch(validate.Regexp):
    """validate.Regexp matching the whole string, as JSON Schema reads `^...$`: Python's `$` also
    matches before a final newline ("123456\\n" passes `^[0-9]{6}$`). The pattern itself stays
    ECMA-262 for the OpenAPI and AsyncAPI documents, where `\\Z` would mean something else."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class Mailbox(fields.Email):
    """An email address, accepted when marshmallow's pattern or email-validator's syntax (the one
    identity checks sign-ups with) takes it. The pattern alone refuses internationalised addresses
    identity lets in (combining marks, as in Hindi or Thai, or a one-letter top-level domain), and
    an event identity writes must pass its own schema. The pattern goes first: it is twenty times
    quicker and takes nearly every address."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pattern = self.validators[0]
        self.validators[0] = self._check

    def _check(self, value: str) -> None:
        try:
            self._pattern(value)
        except ValidationError:
            try:
                validate_email(value, check_deliverability=False, allow_smtputf8=True)
            except EmailNotValidError:
                raise self.make_error("invalid") from None
