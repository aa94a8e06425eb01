"""What every event's data schema shares: the base class, and the recorded meaning of a field."""

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError

from accounts_common.textfields import unstorable_strings


def meaning(text: str) -> dict[str, str]:
    """A field's meaning, recorded in its JSON Schema as `x-meaning`: changing it breaks readers."""
    return {"x-meaning": text}


class EventData(Schema):
    """Base of every event's data schema: unknown fields are ignored, not rejected."""

    class Meta:
        unknown = EXCLUDE

    def load(self, data: Any, **kwargs: Any) -> Any:
        """NUL or a lone surrogate anywhere, unknown fields included, is refused: a dead letter
        naming the field, where a handler's INSERT would fail on it retry after retry. Checked here,
        not in a @pre_load hook, whose machinery would cost a consumer twice the check itself."""
        if problems := unstorable_strings(data):
            raise ValidationError(problems)
        return super().load(data, **kwargs)
