"""The testkit's call(): every status is an answer, whatever its body (a proxy's 502 page too)."""

from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from accounts_testkit.http import call
from tests.support.served import FakeHandler, serving

BAD_GATEWAY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


class Handler(FakeHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, body, kind = {
            "/json": (200, b'{"ok": true}', "application/json"),
            "/proxy": (502, BAD_GATEWAY, "text/html"),
            "/empty": (204, b"", "text/plain"),
        }[self.path]
        self.answer(status, body, kind)


@pytest.fixture
def server() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def test_a_json_answer_is_decoded(server):
    assert call("GET", f"{server}/json") == (200, {"ok": True})


def test_an_empty_answer_is_none(server):
    assert call("GET", f"{server}/empty") == (204, None)


def test_an_error_page_that_is_not_json_is_an_answer_with_its_text(server):
    assert call("GET", f"{server}/proxy") == (502, BAD_GATEWAY.decode())
