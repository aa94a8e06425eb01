"""Request and response bodies of the catalogue's HTTP API: they validate and document it (OpenAPI)."""

from datetime import UTC, datetime, time, timedelta

from marshmallow import Schema, fields, post_load, validate

from accounts_common.textfields import FreeText, WholeMatch
from catalogue.domain.videos import NewRendition, NewVideo, SearchQuery, normalise_tag

MAX_PAGE = 10_000
MAX_PER_PAGE = 100
CHECKSUM = WholeMatch(r"^[0-9a-f]{64}$", error="A SHA-256 checksum in lower-case hex.")
CONTAINER = WholeMatch(r"^[a-z0-9]{1,16}$", error="A container name such as mp4 or mxf.")


def text(max_length: int, **kwargs) -> fields.String:  # type: ignore[no-untyped-def]
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class VideoQuery(Schema):
    q = text(200, load_default="", metadata={"description": 'Words, "a phrase", or -word to exclude'})
    from_ = fields.Date(data_key="from", metadata={"description": "Published on or after this day (UTC)"})
    to = fields.Date(metadata={"description": "Published on or before this day (UTC)"})
    tag = text(100)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))

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


class VideoSummary(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    published_at = fields.AwareDateTime(required=True)
    duration = fields.Float(required=True, attribute="duration_s", metadata={"description": "Seconds"})
    people = fields.List(fields.String(), required=True)
    location = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    thumbnail = fields.String(
        required=True, allow_none=True, metadata={"description": "URL of the thumbnail image, if any"}
    )


class VideoDetail(VideoSummary):
    renditions = fields.List(fields.Nested(RenditionView), required=True)


class VideoPage(Schema):
    items = fields.List(fields.Nested(VideoSummary), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


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
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    description = FreeText(validate=validate.Length(max=20_000), load_default="")
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
