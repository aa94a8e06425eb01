"""The input guard of accounts_common.web.create_api_app, on a small app of its own: every odd input a
JSON body, a query string or a path can carry is a 422 problem naming the field, before the view."""

import io
import json
import re

import flask_smorest
import pytest
from flask.views import MethodView
from marshmallow import Schema, fields

from accounts_common.inputguard import FREE_TEXT_PATTERN, MAX_DEPTH, ONE_LINE_TEXT, YEAR_IN_RANGE
from accounts_common.textfields import FreeText
from accounts_common.web import create_api_app

blp = flask_smorest.Blueprint("things", __name__)


class Note(Schema):
    title = fields.String()
    body = FreeText()
    bodies = fields.Dict(keys=fields.String(), values=FreeText())
    tags = fields.List(fields.String())
    anything = fields.Raw()


class Search(Schema):
    q = fields.String()
    to = fields.Date()
    at = fields.AwareDateTime()


@blp.route("/notes")
class Notes(MethodView):
    @blp.arguments(Note)
    def post(self, note):  # type: ignore[no-untyped-def]
        return {"kept": note}

    @blp.arguments(Search, location="query")
    def get(self, search):  # type: ignore[no-untyped-def]
        return {"found": {key: str(value) for key, value in search.items()}}


@blp.route("/notes/<name>")
def note(name):  # type: ignore[no-untyped-def]
    return {"name": name}


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    app = create_api_app("guarded", blueprints=[blp], readiness_checks={})
    return app.test_client()


def post_raw(client, body: str):  # type: ignore[no-untyped-def]
    return client.post("/notes", data=body, content_type="application/json")


def assert_rejected(response, field: str, words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["type"] == "/problems/validation-error"
    assert problem["title"] == "Unprocessable Entity"
    assert words in problem["detail"]
    assert words in problem["errors"][field][0]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('{"title": "a\\u0000b"}', "title", "U+0000"),
        ('{"title": "a\\u001bb"}', "title", "U+001B"),
        ('{"title": "a\\u007fb"}', "title", "U+007F"),
        ('{"title": "a\\u009bb"}', "title", "U+009B"),
        ('{"body": "next\\u0085line"}', "body", "U+0085"),
        ('{"title": "line\\nbreak"}', "title", "U+000A"),
        ('{"title": "tab\\there"}', "title", "U+0009"),
        ('{"title": "\\ud800"}', "title", "lone surrogate"),
        ('{"tags": ["ok", "\\udfff"]}', "tags.1", "lone surrogate"),
        ('{"body": "a\\u0000b"}', "body", "U+0000"),
        ('{"bodies": {"en": "a\\u0007"}}', "bodies.en", "U+0007"),
        ('{"anything": {"deep": ["x\\r"]}}', "anything.deep.0", "U+000D"),
        ('{"a\\u0000": 1}', "a\x00", "U+0000"),
        ('["\\ud83d"]', "0", "lone surrogate"),
    ],
)
def test_control_characters_and_lone_surrogates_in_json_are_a_422(client, body, field, words):
    assert_rejected(post_raw(client, body), field, words)


def test_free_text_keeps_its_lines_and_tabs(client):
    text = "# Title\r\n\n\tindented"
    response = client.post("/notes", json={"body": text, "bodies": {"en": text}, "title": "One line"})
    assert response.status_code == 200
    assert response.json["kept"]["body"] == text


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_json_nested_too_deep_is_a_422(client, depth):
    response = post_raw(client, "[" * depth + "]" * depth)
    assert response.status_code == 422
    assert f"deeper than {MAX_DEPTH} levels" in response.json["detail"]


def test_nesting_up_to_the_limit_reaches_the_view(client):
    nested = json.dumps({"anything": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))})
    assert post_raw(client, nested).status_code == 200


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("q=a%00b", "q", "U+0000"),
        ("q=a%0Ab", "q", "U+000A"),
        ("q=%09", "q", "U+0009"),
        ("unknown=%1F", "unknown", "U+001F"),
        ("q=a%7Fb", "q", "U+007F"),
        ("q=a%C2%9Bb", "q", "U+009B"),
        ("q=fine&q=%00", "q", "U+0000"),
        ("to=9999-12-31", "to", "years 1000 to 9998"),
        ("to=0001-01-01", "to", "years 1000 to 9998"),
        ("at=9999-12-31T23:59:59Z", "at", "years 1000 to 9998"),
    ],
)
def test_odd_query_strings_are_a_422(client, query, field, words):
    assert_rejected(client.get(f"/notes?{query}"), field, words)


def test_ordinary_queries_and_dates_pass(client):
    response = client.get("/notes?q=caf%C3%A9+%22a+phrase%22&to=2021-02-11&at=2021-02-11T10:00:00Z")
    assert response.status_code == 200
    assert response.json["found"]["to"] == "2021-02-11"


def test_a_malformed_date_is_left_to_the_schema(client):
    response = client.get("/notes?to=tomorrow")
    assert response.status_code == 422
    assert response.json["errors"]["to"] == ["Not a valid date."]


def test_path_segments_are_guarded(client):
    assert_rejected(client.get("/notes/a%00b"), "name", "U+0000")
    assert client.get("/notes/ab").json == {"name": "ab"}


@pytest.mark.parametrize(
    "body",
    ['{"anything": %s}' % ("9" * 5000), '{"title": "x", "anything": [-%s]}' % ("1" * 4301)],
    ids=["a-field", "in-a-list"],
)
def test_a_number_too_long_to_read_is_a_422_not_a_500(client, body):
    """Python refuses to read an integer of over 4300 digits (sys.get_int_max_str_digits): valid JSON
    that no parser here reads, the view's included."""
    response = post_raw(client, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert "number too long" in response.json["detail"]


def test_malformed_json_is_still_a_400(client):
    response = post_raw(client, '{"title": ')
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


LIMIT = 1000


def post_chunked(body: bytes):  # type: ignore[no-untyped-def]
    """POST `body` as a server that reads chunked encoding itself hands it to the app (gunicorn: no
    Content-Length, wsgi.input_terminated), to an app whose body limit is LIMIT bytes."""
    limit = {"MAX_CONTENT_LENGTH": LIMIT}
    app = create_api_app("limited", blueprints=[blp], readiness_checks={}, config=limit)
    return app.test_client().post(
        "/notes",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_a_413_not_a_malformed_request():
    """werkzeug stops reading a streamed body at the limit without a word: its first LIMIT bytes were
    parsed, and a body over the limit read as malformed JSON (a 400 saying nothing of the size)."""
    response = post_chunked(json.dumps({"title": "a" * 2 * LIMIT}).encode())
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("size", [LIMIT // 2, LIMIT], ids=["under", "exactly"])
def test_a_chunked_body_up_to_the_limit_reaches_the_view(size):
    padding = size - len(json.dumps({"title": ""}))
    body = json.dumps({"title": "a" * padding}).encode()
    assert len(body) == size
    response = post_chunked(body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["kept"]["title"] == "a" * padding


def test_the_openapi_document_states_the_guard(client):
    document = client.get("/openapi.json").json
    for item in document["paths"].values():
        for method, operation in item.items():
            assert method == "parameters" or "422" in operation["responses"]
    note = document["components"]["schemas"]["Note"]["properties"]
    assert note["body"]["x-free-text"] is True and note["body"]["pattern"] == FREE_TEXT_PATTERN
    assert "x-free-text" not in note["title"] and note["title"]["pattern"] == ONE_LINE_TEXT
    query = {parameter["name"]: parameter for parameter in document["paths"]["/notes"]["get"]["parameters"]}
    assert query["q"]["schema"]["pattern"] == ONE_LINE_TEXT
    assert query["to"]["schema"]["pattern"] == YEAR_IN_RANGE  # a date, in the years the guard lets through
    assert re.match(YEAR_IN_RANGE, "1000-01-01") and re.match(YEAR_IN_RANGE, "9998-12-31")
    assert not re.match(YEAR_IN_RANGE, "0999-12-31") and not re.match(YEAR_IN_RANGE, "9999-01-01")
