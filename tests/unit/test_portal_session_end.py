"""A signed-in page says when its session ends (identity's token expires, and is never lengthened),
and "Log in again" starts a new session back on the page, keeping the browser's drafts."""

import re
import time
from typing import Any

import jwt
import pytest

from tests.unit.test_portal import EditorIdentity, csrf_token, staff_client

ISSUE_PAGE = "/console/newsletter/new"


def token_for(seconds: float) -> str:
    """A token as identity's, expiring in `seconds` (its signature is not the portal's to check)."""
    return jwt.encode(
        {"sub": "1", "email": "editor@example.org", "exp": int(time.time() + seconds)}, "k" * 32
    )


class LoggingOut(EditorIdentity):
    def __init__(self) -> None:
        self.logged_out: list[str] = []

    def log_out(self, token: str) -> None:
        self.logged_out.append(token)


def seconds_left(page: str) -> int | None:
    found = re.search(r'<div class="session-ending" data-session-ends data-seconds-left="(\d+)"', page)
    return int(found.group(1)) if found else None


@pytest.mark.parametrize("path", [ISSUE_PAGE, "/account", "/"])
def test_a_signed_in_page_knows_when_its_session_ends_from_the_tokens_expiry(path):
    """The console's pages, and every other page of a signed-in account (its 15 minutes end there too)."""
    client: Any = staff_client(EditorIdentity())
    assert "data-session-ends" not in client.get(path).text, "signed out: no session to end"
    with client.session_transaction() as session:
        session["token"] = token_for(600)
    left = seconds_left(client.get(path).text)
    assert left is not None and 590 <= left <= 600
    with client.session_transaction() as session:
        session["token"] = "not-a-token"
    assert seconds_left(client.get(path).text) is None


def test_log_in_again_ends_this_session_and_returns_to_the_page_after_the_login():
    identity = LoggingOut()
    client: Any = staff_client(identity)
    with client.session_transaction() as session:
        session["token"] = token = token_for(60)
    page = client.get(ISSUE_PAGE).text
    form = re.search(r'<form method="post" action="/login/again"[^>]*>(.*?)</form>', page, re.S)
    assert form and "data-forget-drafts" not in form.group(0), "the drafts come back after the login"
    assert f'name="next" value="{ISSUE_PAGE}"' in form.group(1)
    again = client.post(
        "/login/again", data={"csrf_token": csrf_token(client, ISSUE_PAGE), "next": ISSUE_PAGE}
    )
    assert again.status_code == 303 and again.headers["Location"] == "/login"
    assert identity.logged_out == [token]
    with client.session_transaction() as session:
        assert "token" not in session and session["return_to"] == ISSUE_PAGE
    assert client.get("/login").status_code == 200, "the login form, not back to the page"
