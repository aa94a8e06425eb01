"""Sending stored files: the conditional requests of RFC 9110 §13 against a file in memory."""

import io

import pytest
from flask import Flask

from accounts_common.problems import Problem
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


@pytest.mark.parametrize("header", ["items=0-9", "pages=1", "none"])
def test_a_range_of_a_unit_other_than_bytes_is_ignored_and_the_whole_file_sent(header):
    # RFC 9110 §14.2: an origin server MUST ignore a Range of a unit it does not understand (as nginx
    # does when it serves the bytes): the whole file, never a 416.
    response = answer(Range=header)
    assert (response.status_code, response.content_length) == (200, len(CONTENT))
    assert "Content-Range" not in response.headers


def test_a_malformed_or_unsatisfiable_byte_range_is_still_416():
    for header in ("bytes=300-", "bytes=5-4", "bytes=a-b"):
        with pytest.raises(Problem) as refused:
            answer(Range=header)
        assert refused.value.status == 416, header
