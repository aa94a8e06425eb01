"""What the catalogue's use cases refuse, each with the problem type the HTTP layer answers."""

from collections.abc import Mapping
from typing import Any


class Refusal(Exception):
    """A request the catalogue turns down; `status` and `slug` become its problem+json."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail, self.errors = detail, errors


class NotFound(Refusal):
    status, slug = 404, "not-found"


class NotEntitled(Refusal):
    status, slug = 403, "account-not-entitled"


class LinkInvalid(Refusal):
    status, slug = 403, "link-invalid"


class LinkExpired(Refusal):
    status, slug = 410, "link-expired"


class FileUnavailable(Refusal):
    status, slug = 503, "file-unavailable"


class InvalidIngest(Refusal):
    status, slug = 422, "validation-error"


class Conflict(Refusal):
    status, slug = 409, "conflict"
