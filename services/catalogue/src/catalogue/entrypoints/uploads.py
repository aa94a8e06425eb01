"""The tus 1.0 protocol (core, creation, termination, expiration) at /v1/uploads/, for catalogue editors:
Uppy, tus-js-client and tuspy upload a master here and resume it after any interruption; an upload no
video is made of within CATALOGUE_UPLOAD_EXPIRY_S expires (Upload-Expires), removed by the transcoder.

Bodies are read in 1 MiB chunks into the upload area, a folder or (with a bucket) S3 parts, never held
in memory whole; MAX_CONTENT_LENGTH, which guards the JSON endpoints, does not apply to a PATCH here."""

from typing import Any
from uuid import UUID

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from accounts_common.apidocs import BEARER_AUTH, staff_problems
from accounts_common.auth import Principal
from accounts_common.authorization import authorize_role
from accounts_common.problems import Problem, document_problems
from accounts_common.roles import Role
from catalogue.adapters.upload_store import Upload
from catalogue.bootstrap import Catalogue
from catalogue.service_layer import uploads as use_cases

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096
EDITOR = staff_problems(Role.CATALOGUE_EDITOR)
DISK_FULL = {507: "insufficient-storage: the catalogue's disk is full (the bytes received before are kept)"}
TUS_HEADER = {"Tus-Resumable": {"schema": {"type": "string", "const": TUS_VERSION}}}

SERVER_HEADERS = {
    **TUS_HEADER,
    "Tus-Version": {"schema": {"type": "string"}},
    "Tus-Extension": {"schema": {"type": "string"}},
    "Tus-Max-Size": {"schema": {"type": "integer"}},
}
EXPIRES_HEADER = {
    "Upload-Expires": {
        "schema": {"type": "string"},
        "description": "When an upload no video was made of is removed (an HTTP date, "
        "CATALOGUE_UPLOAD_EXPIRY_S after its creation)",
    }
}

uploads = Blueprint(
    "uploads", __name__, url_prefix="/v1/uploads", description="Resumable uploads (tus 1.0), editors only"
)


def catalogue() -> Catalogue:
    return current_app.extensions["catalogue"]


def _header(name: str, kind: str, required: bool) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": required, "schema": {"type": kind}}


@uploads.before_request
def tus_checks() -> Response | None:
    """OPTIONS is open (it only describes the server); anything else needs the editor role and,
    as tus says, the client's protocol version."""
    if request.method == "OPTIONS":
        return None
    authorize_role(Role.CATALOGUE_EDITOR)
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise Problem(
            412,
            "tus-version",
            f"Tus-Resumable: {TUS_VERSION} is required.",
            headers={"Tus-Version": TUS_VERSION},
        )
    if request.method == "PATCH":
        # The body goes to the upload area in chunks: an upload's own length bounds it, not the JSON limit.
        request.max_content_length = catalogue().settings.max_upload_bytes
    return None


@uploads.after_request
def tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


@uploads.route("/")
class Uploads(MethodView):
    @uploads.doc(
        responses={"204": {"description": "What this tus server supports", "headers": SERVER_HEADERS}}
    )
    def options(self) -> Response:
        """The tus versions, extensions and largest upload this server takes."""
        headers = {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(catalogue().settings.max_upload_bytes),
        }
        return Response(status=204, headers=headers)

    @uploads.doc(
        security=BEARER_AUTH,
        parameters=[_header("Upload-Length", "integer", True), _header("Upload-Metadata", "string", False),
                    _header("Tus-Resumable", "string", True)],
        responses={"201": {"description": "Created: PATCH the bytes to Location",
                           "headers": {**TUS_HEADER, **EXPIRES_HEADER,
                                       "Location": {"schema": {"type": "string"}}}}},
    )  # fmt: skip
    @document_problems(
        uploads,
        {**EDITOR, 400: "Upload-Length missing or not a number", 412: "Not tus 1.0.0",
         413: "Longer than Tus-Max-Size", 503: "The bucket uploads go to cannot be reached", **DISK_FULL},
    )  # fmt: skip
    def post(self) -> Response:
        """Create an upload of Upload-Length bytes (tus creation)."""
        length = _number_header("Upload-Length")
        metadata = request.headers.get("Upload-Metadata", "")
        if len(metadata) > MAX_METADATA_CHARS or not metadata.isprintable():
            raise Problem(400, "bad-metadata", "Upload-Metadata is too long or holds control characters.")
        upload = use_cases.create(catalogue(), _principal(), length, metadata)
        location = f"{catalogue().settings.public_url}/v1/uploads/{upload.id}"
        headers = {"Location": location, "Upload-Offset": "0", **expires(upload)}
        return Response(status=201, headers=headers)


@uploads.route("/<uuid:upload_id>")
class UploadResource(MethodView):
    @uploads.doc(
        security=BEARER_AUTH,
        parameters=[_header("Tus-Resumable", "string", True)],
        responses={"200": {"description": "How far the upload is", "headers": {**TUS_HEADER, **EXPIRES_HEADER,
                   "Upload-Offset": {"schema": {"type": "integer"}},
                   "Upload-Length": {"schema": {"type": "integer"}}}}},
    )  # fmt: skip
    @document_problems(uploads, {**EDITOR, 404: "No such upload (or not yours)", 412: "Not tus 1.0.0",
                                 503: "The bucket uploads go to cannot be reached, or cannot list the "
                                      "upload's parts (a part on its way is waited for)"})  # fmt: skip
    def head(self, upload_id: UUID) -> Response:
        """The upload's offset: where a client resumes."""
        state = use_cases.state(catalogue(), _principal(), upload_id)
        headers = {"Upload-Offset": str(state.offset), "Upload-Length": str(state.upload.length),
                   **expires(state.upload)}  # fmt: skip
        if state.upload.metadata:
            headers["Upload-Metadata"] = state.upload.metadata
        return Response(status=200, headers=headers)

    @uploads.doc(
        security=BEARER_AUTH,
        parameters=[_header("Upload-Offset", "integer", True), _header("Tus-Resumable", "string", True)],
        requestBody={"content": {OFFSET_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        responses={"204": {"description": "Bytes appended", "headers": {**TUS_HEADER, **EXPIRES_HEADER,
                           "Upload-Offset": {"schema": {"type": "integer"}}}}},
    )  # fmt: skip
    @document_problems(
        uploads,
        {**EDITOR, 400: "Upload-Offset missing", 404: "No such upload",
         409: "Upload-Offset is not the upload's offset", 412: "Not tus 1.0.0",
         413: "More bytes than the upload's length", 415: "Not application/offset+octet-stream",
         423: "Another request is writing to it", 503: "The bucket uploads go to cannot be reached",
         **DISK_FULL},
    )  # fmt: skip
    def patch(self, upload_id: UUID) -> Response:
        """Append bytes at Upload-Offset (tus core)."""
        if request.mimetype != OFFSET_CONTENT_TYPE:
            raise Problem(415, "unsupported-media-type", f"PATCH bodies are {OFFSET_CONTENT_TYPE}.")
        offset = _number_header("Upload-Offset")
        stream = request.stream

        def read(size: int) -> bytes:
            try:
                return stream.read(size)
            except (ClientDisconnected, OSError):
                return b""  # the client went away: keep what arrived

        written = use_cases.write(catalogue(), _principal(), upload_id, offset, read, request.content_length)
        return Response(status=204, headers={"Upload-Offset": str(written.offset), **expires(written.upload)})

    @uploads.doc(security=BEARER_AUTH, parameters=[_header("Tus-Resumable", "string", True)],
                 responses={"204": {"description": "Terminated", "headers": TUS_HEADER}})  # fmt: skip
    @document_problems(uploads, {**EDITOR, 404: "No such upload", 412: "Not tus 1.0.0",
                                 423: "A request is writing to it",
                                 503: "The bucket uploads go to cannot be reached"})  # fmt: skip
    def delete(self, upload_id: UUID) -> Response:
        """Stop an upload and forget its bytes (tus termination)."""
        use_cases.terminate(catalogue(), _principal(), upload_id)
        return Response(status=204)


def expires(upload: Upload) -> dict[str, str]:
    """tus expiration: Upload-Expires while the upload waits to become a video."""
    return {"Upload-Expires": http_date(use_cases.expires_at(catalogue(), upload))}


def _principal() -> Principal:
    return g.principal


def _number_header(name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise Problem(400, "bad-header", f"{name} must be a whole number of bytes.")
    return int(value)
