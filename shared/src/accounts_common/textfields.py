"""String fields and patterns of request and event schemas, as the input guard and the documents read them."""

from typing import Any

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
