"""Request and response bodies of the catalogue's HTTP API: they validate and document it (OpenAPI)."""

from datetime import UTC, datetime, time, timedelta

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from accounts_common.paging import PageEnvelope, PageQuery
from accounts_common.textfields import FreeText, WholeMatch
from catalogue.domain.videos import (
    Localized,
    NewRendition,
    NewVideo,
    SearchQuery,
    Status,
    Submission,
    normalise_tag,
)
from catalogue.service_layer.publishing import upload_id_of

CHECKSUM = WholeMatch(r"^[0-9a-f]{64}$", error="A SHA-256 checksum in lower-case hex.")
CONTAINER = WholeMatch(r"^[a-z0-9]{1,16}$", error="A container name such as mp4 or mxf.")


def filled(text: str) -> str:
    """A title or description as kept: blanks alone are no text, so the other language's shows instead
    (Localized.best, the portal's pages) rather than a blank one."""
    return text if text.strip() else ""


def text(max_length: int, **kwargs) -> fields.String:  # type: ignore[no-untyped-def]
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class VideoQuery(PageQuery):
    q = text(200, load_default="", metadata={"description": 'Words, "a phrase", or -word to exclude'})
    from_ = fields.Date(data_key="from", metadata={"description": "Published on or after this day (UTC)"})
    to = fields.Date(metadata={"description": "Published on or before this day (UTC)"})
    tag = text(100)

    @post_load
    def to_query(self, data, **kwargs) -> SearchQuery:  # type: ignore[no-untyped-def]
        start, end = data.get("from_"), data.get("to")
        return SearchQuery(
            text=data["q"],
            published_from=datetime.combine(start, time(), UTC) if start else None,
            published_before=datetime.combine(end + timedelta(days=1), time(), UTC) if end else None,
            tag=normalise_tag(data["tag"]) if data.get("tag") else None,
            page=data["page"],
            per_page=data["per_page"],
        )


class LocalizedView(Schema):
    en = fields.String(required=True, metadata={"description": "English; empty when there is none"})
    fr = fields.String(required=True, metadata={"description": "French; empty when there is none"})


class LocalizedTitle(Schema):
    en = fields.String(load_default="", validate=validate.Length(max=300))
    fr = fields.String(load_default="", validate=validate.Length(max=300))
    # one_language, as the OpenAPI document says it (accounts_common.web.document_schema_rules).
    JSON_SCHEMA_RULES = {
        "anyOf": [{"required": [lang], "properties": {lang: {"pattern": "\\S"}}} for lang in ("en", "fr")]
    }

    @validates_schema
    def one_language(self, data, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not (data.get("en", "").strip() or data.get("fr", "").strip()):
            raise ValidationError("A title in English, in French or both.", "en")

    @post_load
    def to_text(self, data, **kwargs) -> Localized:  # type: ignore[no-untyped-def]
        return Localized(filled(data["en"]), filled(data["fr"]))


class LocalizedDescription(Schema):
    en = FreeText(load_default="", validate=validate.Length(max=20_000))
    fr = FreeText(load_default="", validate=validate.Length(max=20_000))

    @post_load
    def to_text(self, data, **kwargs) -> Localized:  # type: ignore[no-untyped-def]
        return Localized(filled(data["en"]), filled(data["fr"]))


class LocalizedEdit(Schema):
    """The languages of a text to change: those sent change, the others stay as they are."""

    JSON_SCHEMA_RULES = {"minProperties": 1}  # some_language, as the OpenAPI document says it

    @validates_schema
    def some_language(self, data, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not data:
            raise ValidationError("en, fr or both.", "en")


class TitleEdit(LocalizedEdit):
    en = fields.String(validate=validate.Length(max=300))
    fr = fields.String(validate=validate.Length(max=300))


class DescriptionEdit(LocalizedEdit):
    en = FreeText(validate=validate.Length(max=20_000))
    fr = FreeText(validate=validate.Length(max=20_000))


class RenditionView(Schema):
    id = fields.UUID(required=True)
    label = fields.String(required=True, metadata={"example": "1080p MP4"})
    container = fields.String(required=True, metadata={"example": "mp4"})
    codec = fields.String(required=True, metadata={"example": "h264"})
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    bitrate = fields.Integer(required=True, metadata={"description": "Bits per second"})
    size_bytes = fields.Integer(required=True)
    checksum = fields.String(required=True, metadata={"description": "SHA-256 of the file, hex"})
    sha256 = fields.Function(
        lambda rendition: rendition.checksum,
        required=True,
        metadata={"type": "string", "description": "SHA-256 of the file, lower-case hex (as checksum)"},
    )


class VideoSummary(Schema):
    id = fields.UUID(required=True)
    title = fields.Nested(LocalizedView, required=True)
    description = fields.Nested(LocalizedView, required=True)
    published_at = fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "Null until published, unless set"}
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf([str(status) for status in Status]),
        metadata={"description": "processing, ready, published or failed; the public sees published only"},
    )
    progress = fields.Integer(required=True, metadata={"description": "Transcoding progress, 0-100"})
    failure = fields.String(allow_none=True, metadata={"description": "Why transcoding failed"})
    duration = fields.Float(required=True, attribute="duration_s", metadata={"description": "Seconds"})
    people = fields.List(fields.String(), required=True)
    location = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    thumbnail = fields.String(
        required=True, allow_none=True, metadata={"description": "URL of the thumbnail image, if any"}
    )


class VideoDetail(VideoSummary):
    renditions = fields.List(fields.Nested(RenditionView), required=True)
    deletable = fields.Boolean(
        required=True,
        metadata={"description": "Never published (a withdrawn video was): editors may delete it"},
    )
    texts_version = fields.String(
        required=True,
        metadata={"description": "The version of the titles and descriptions, to send back with an edit"},
    )
    poster_url = fields.String(
        required=True, allow_none=True, metadata={"description": "The poster image's URL"}
    )
    preview_url = fields.String(
        required=True, allow_none=True, metadata={"description": "A short MP4 preview's URL, Range-served"}
    )


class VideoAccepted(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"example": "processing"})


def text_list(max_items: int):  # type: ignore[no-untyped-def]
    return fields.List(text(200), load_default=list, validate=validate.Length(max=max_items))


def tag_list():  # type: ignore[no-untyped-def]
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        validate=validate.Length(max=50),
    )


class VideoSubmit(Schema):
    upload_url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "The Location of a finished tus upload (POST /v1/uploads/)"},
    )
    title = fields.Nested(LocalizedTitle, required=True)
    description = fields.Nested(LocalizedDescription, load_default=lambda: Localized())
    published_at = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "The date to publish under; the publication's when left out"},
    )
    people = text_list(100)
    location = text(200, load_default="")
    tags = tag_list()

    @post_load
    def to_submission(self, data, **kwargs) -> Submission:  # type: ignore[no-untyped-def]
        upload_id = upload_id_of(data["upload_url"])
        if upload_id is None:
            raise ValidationError("Not a tus upload URL of this catalogue.", "upload_url")
        return Submission(
            upload_id=upload_id, title=data["title"], description=data["description"],
            published_at=data["published_at"], people=data["people"], location=data["location"],
            tags=sorted({normalise_tag(tag) for tag in data["tags"]} - {""}),
        )  # fmt: skip


class VideoEdit(Schema):
    title = fields.Nested(TitleEdit, metadata={"description": "Only the languages sent change"})
    description = fields.Nested(DescriptionEdit, metadata={"description": "Only the languages sent change"})
    published_at = fields.AwareDateTime(allow_none=True)
    people = fields.List(text(200), validate=validate.Length(max=100))
    location = text(200)
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=50)
    )
    texts_version = fields.String(
        validate=validate.Length(max=64),
        metadata={
            "description": "The texts_version of the video these changes were typed over: when its texts "
            "were saved again since, 409 texts-changed and nothing changes (optional)"
        },
    )

    @post_load
    def to_changes(self, data, **kwargs) -> dict:  # type: ignore[no-untyped-def,type-arg]
        changes = {key: value for key, value in data.items() if key not in ("title", "description")}
        for name in ("title", "description"):
            for language, text in data.get(name, {}).items():
                changes[f"{name}_{language}"] = filled(text)
        if "tags" in data:
            changes["tags"] = sorted({normalise_tag(tag) for tag in data["tags"]} - {""})
        return changes


class VideoPage(PageEnvelope):
    items = fields.List(fields.Nested(VideoSummary), required=True)


class RenditionIngest(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    container = fields.String(required=True, validate=CONTAINER)
    codec = fields.String(required=True, validate=validate.Length(min=1, max=50))
    width = fields.Integer(required=True, validate=validate.Range(min=1, max=65_535))
    height = fields.Integer(required=True, validate=validate.Range(min=1, max=65_535))
    bitrate = fields.Integer(required=True, validate=validate.Range(min=0, max=10**12))
    path = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "Where the file already is, relative to the storage root"},
    )
    checksum = fields.String(validate=CHECKSUM, metadata={"description": "Computed when left out"})

    @post_load
    def to_rendition(self, data, **kwargs) -> NewRendition:  # type: ignore[no-untyped-def]
        return NewRendition(
            **{("storage_key" if key == "path" else key): value for key, value in data.items()}
        )


class VideoIngest(Schema):
    title = fields.Nested(LocalizedTitle, required=True)
    description = fields.Nested(LocalizedDescription, load_default=lambda: Localized())
    published_at = fields.AwareDateTime(required=True)
    duration = fields.Float(
        required=True, validate=validate.Range(min=0, max=10**7), metadata={"description": "Seconds"}
    )
    people = fields.List(text(200), load_default=list, validate=validate.Length(max=100))
    location = text(200, load_default="")
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    thumbnail = fields.String(
        validate=validate.Length(min=1, max=1024), metadata={"description": "Image path in storage"}
    )
    renditions = fields.List(
        fields.Nested(RenditionIngest), required=True, validate=validate.Length(min=1, max=20)
    )

    @post_load
    def to_video(self, data, **kwargs) -> NewVideo:  # type: ignore[no-untyped-def]
        return NewVideo(
            title=data["title"],
            description=data["description"],
            published_at=data["published_at"],
            duration_s=data["duration"],
            people=data["people"],
            location=data["location"],
            tags=sorted({normalise_tag(tag) for tag in data["tags"]} - {""}),
            renditions=data["renditions"],
            thumbnail_key=data.get("thumbnail"),
        )


class DownloadLinkView(Schema):
    url = fields.String(required=True, metadata={"description": "GET or HEAD it before expires_at"})
    expires_at = fields.AwareDateTime(required=True)


class DownloadArgs(Schema):
    rendition = fields.UUID(required=True)
    expires = fields.Integer(required=True, validate=validate.Range(min=0, max=2**40))
    signature = fields.String(required=True, validate=validate.Length(min=1, max=100))
