"""String fields and patterns of request and event schemas, as the input guard and the documents read them."""

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields, validate

FREE_TEXT = "x-free-text"

# What no PostgreSQL text column can hold, whatever the field: NUL, and lone surrogates (not
# Unicode characters, so no UTF-8 either). Anywhere in an event, it would fail the handler's INSERT.
_SURROGATE = re.compile("[\ud800-\udfff]")
NUL_HELD = "Contains the control character U+0000, which no database text can hold."
SURROGATE_HELD = "Contains a lone surrogate, which is not a Unicode character."


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


def unstorable(text: str) -> str | None:
    """What in `text` no database can store, in the input guard's words, or None."""
    if "\x00" in text:
        return NUL_HELD
    if text.isascii() or _SURROGATE.search(text) is None:
        return None
    return SURROGATE_HELD


def unstorable_strings(value: Any) -> dict[str, list[str]]:
    """Each string of a JSON value (object keys included) no database can store, by dotted path.

    Iterative: data nested as deep as the JSON parser reads must not hit the recursion limit here.
    Run on every event a consumer reads: strings are checked in line, a path made only for what is
    found or nested."""
    if isinstance(value, str):
        problem = unstorable(value)
        return {} if problem is None else {"_data": [problem]}
    if not isinstance(value, dict | list):
        return {}
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        members = item.items() if isinstance(item, dict) else enumerate(item)
        for key, member in members:
            problem = unstorable(key) if isinstance(key, str) else None
            if isinstance(member, str):
                problem = unstorable(member) or problem
            elif isinstance(member, dict | list):  # other values (numbers, null) hold no text
                stack.append((f"{path}.{key}" if path else str(key), member))
            if problem is not None:
                found[f"{path}.{key}" if path else str(key)] = [problem]
    return found
