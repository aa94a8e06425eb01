"""What the catalogue's use cases refuse; the entrypoints answer each with its problem type."""

from collections.abc import Mapping
from typing import Any


class Refusal(Exception):
    """A request the catalogue turns down, in words for the caller; `errors` names fields at fault."""

    def __init__(self, detail: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class NotFound(Refusal):
    """No such video, file or upload (or not one the caller may see)."""


class NotEntitled(Refusal):
    """The account may not download (not verified)."""


class LinkInvalid(Refusal):
    """A download link that was never handed out, or was revoked."""


class LinkExpired(Refusal):
    """A download link past its lifetime."""


class FileUnavailable(Refusal):
    """The file is listed but its bytes cannot be read."""


class InvalidIngest(Refusal):
    """What an editor sent to create or change a video does not hold together."""


class Conflict(Refusal):
    """The video or upload is not in a state that allows this."""


class TooLarge(Refusal):
    """An upload longer than the catalogue takes."""


class Locked(Refusal):
    """The upload is being written by another request."""


class TextsChanged(Refusal):
    """The texts an edit was typed over were saved again since (by another editor, in another tab)."""


class MasterGone(Conflict):
    """The master of a video to transcode again is no longer in storage: it must be uploaded again."""
