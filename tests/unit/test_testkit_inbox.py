"""The testkit's Inbox reads each message whole once, and polls with the listing alone.

Against a fake Mailpit that counts the requests it answers (tests/infra/test_smtp_sink.py reads the
real one)."""

import json
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from accounts_testkit import inbox as inbox_module
from accounts_testkit.inbox import Inbox
from tests.support.served import FakeHandler, serving

TO = "reader@example.org"


class FakeMailpit(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.messages: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()
        self.searches_before_second = 0
        self.arriving_after_first_page: str | None = None

    def add(self, message_id: str) -> None:
        listed = {"ID": message_id, "To": [{"Address": TO}], "Subject": message_id, "Created": "x"}
        self.messages.insert(0, listed)  # newest first, as Mailpit lists

    def page(self, path: str) -> list[dict[str, Any]]:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        start, limit = int(query.get("start", 0)), int(query.get("limit", 50))
        page = self.messages[start : start + limit]
        if self.arriving_after_first_page and start == 0:
            self.add(self.arriving_after_first_page)
            self.arriving_after_first_page = None
        return page


class Handler(FakeHandler):
    server: FakeMailpit

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        kind = "search" if path == "/api/v1/search" else "headers" if path.endswith("/headers") else "message"
        self.server.requests[kind] += 1
        if kind == "search":
            if self.server.requests["search"] == self.server.searches_before_second:
                self.server.add("second")
            self.answer_json({"messages": self.server.page(self.path)})
        elif kind == "headers":
            self.answer_json({"Date": ["Sun, 6 Dec 2026 12:00:00 +0000"]})
        else:
            self.answer_json({"ReturnPath": "no-reply@example.org", "Text": "hello\r\n", "HTML": ""})

    def answer_json(self, body: object) -> None:
        self.answer(200, json.dumps(body).encode())


@pytest.fixture
def mailpit() -> Iterator[FakeMailpit]:
    with serving(FakeMailpit()) as server:
        yield server


def test_a_message_listed_again_is_not_read_again(mailpit):
    mailpit.add("first")
    inbox = Inbox(f"http://127.0.0.1:{mailpit.server_port}")
    for _ in range(3):
        assert [message["text"] for message in inbox.messages(TO)] == ["hello\n"]
    assert mailpit.requests == {"search": 3, "message": 1, "headers": 1}


def test_waiting_for_messages_lists_until_enough_then_reads_each_once(mailpit):
    mailpit.add("first")
    mailpit.searches_before_second = 4
    inbox = Inbox(f"http://127.0.0.1:{mailpit.server_port}")
    found = inbox.wait_for_messages(TO, count=2, timeout=10)
    assert [message["subject"] for message in found] == ["second", "first"]
    assert mailpit.requests == {"search": 4, "message": 2, "headers": 2}


def test_a_message_arriving_while_pages_are_listed_does_not_list_another_twice(mailpit, monkeypatch):
    monkeypatch.setattr(inbox_module, "PAGE", 2)
    for message_id in ("first", "second", "third"):
        mailpit.add(message_id)
    mailpit.arriving_after_first_page = "fourth"
    inbox = Inbox(f"http://127.0.0.1:{mailpit.server_port}")
    listed = [summary["id"] for summary in inbox.summaries(TO)]
    assert sorted(listed) == sorted(set(listed)), listed
    assert {"first", "second", "third"} <= set(listed)
