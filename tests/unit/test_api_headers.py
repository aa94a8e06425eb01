"""What every service's answer tells a browser, whatever it is (JSON, a problem, a file, the operations
endpoints): not to sniff its type, and never to run it as a page or frame it. A file the catalogue serves
from its own address (a thumbnail an editor registered) is never a page that runs scripts there."""

import io

import flask_smorest
import pytest
from flask.views import MethodView

from accounts_common.web import create_api_app
from catalogue.entrypoints.delivery import StoredFile, file_response

blp = flask_smorest.Blueprint("things", __name__, url_prefix="/v1/things")
HTML = b"<html><script>alert(document.domain)</script></html>"


@blp.route("/")
class Things(MethodView):
    def get(self):  # type: ignore[no-untyped-def]
        return {"things": []}


@blp.route("/image")
class Image(MethodView):
    def get(self):  # type: ignore[no-untyped-def]
        stored = StoredFile("thumbnail.jpg", len(HTML), "image/jpeg", "inline")
        return file_response(stored, lambda: io.BytesIO(HTML))


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return create_api_app("things", blueprints=[blp], readiness_checks={}).test_client()


@pytest.mark.parametrize(
    "path", ["/v1/things/", "/v1/things/image", "/v1/things/missing", "/healthz", "/openapi.json"]
)
def test_every_answer_is_neither_sniffed_nor_run_as_a_page_nor_framed(client, path):
    answer = client.get(path)
    assert answer.headers.get("X-Content-Type-Options") == "nosniff"
    policy = answer.headers.get("Content-Security-Policy", "")
    assert {"default-src 'none'", "frame-ancestors 'none'", "sandbox"} <= {
        part.strip() for part in policy.split(";")
    }
