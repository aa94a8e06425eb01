"""Sending stored files: the conditional requests of RFC 9110 §13 against a file in memory."""

import io

import pytest
from flask import Flask

from catalogue.entrypoints.delivery import StoredFile, file_response

CONTENT = bytes(range(256))
SHA = "ab" * 32
STORED = StoredFile("videos/x.mp4", len(CONTENT), "video/mp4", "inline", etag=SHA, sha256=SHA)


def answer(**headers: str):  # type: ignore[no-untyped-def]
    with Flask(__name__).test_request_context(headers=headers):
        return file_response(STORED, lambda: io.BytesIO(CONTENT))


@pytest.mark.parametrize("if_none_match", [f'"{SHA}"', f'W/"{SHA}"', f'"other", W/"{SHA}"', "*"])
def test_if_none_match_compares_weakly(if_none_match):
    # RFC 9110 §13.1.2: a weak tag from a cache (W/"…") matches the file's strong one.
    response = answer(**{"If-None-Match": if_none_match})
    assert response.status_code == 304 and response.headers["ETag"] == f'"{SHA}"'


def test_if_none_match_of_another_tag_sends_the_file():
    assert answer(**{"If-None-Match": 'W/"other"'}).status_code == 200


def test_if_range_compares_strongly():
    # RFC 9110 §13.1.5: a weak tag cannot vouch for the bytes around a range, so the whole file comes.
    strong = answer(Range="bytes=0-9", **{"If-Range": f'"{SHA}"'})
    weak = answer(Range="bytes=0-9", **{"If-Range": f'W/"{SHA}"'})
    assert (strong.status_code, strong.content_length) == (206, 10)
    assert (weak.status_code, weak.content_length) == (200, len(CONTENT))
