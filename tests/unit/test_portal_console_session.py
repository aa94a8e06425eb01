"""A staff member's session ending while a console form is being filled in."""

import re

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import UPLOAD, FakeLogin, PastTimeIssue, portal_client


class EndedSession(FakeLogin):
    """Identity: the session's first token has ended (expired, or logged out elsewhere)."""

    def me(self, token: str) -> dict[str, str]:
        if token == "ended-token":
            raise ApiError(401, "token-expired")
        return super().me(token)


@pytest.mark.parametrize(
    ("posted_to", "back_to"),
    [
        (f"/console/newsletter/{UPLOAD}", f"/console/newsletter/{UPLOAD}"),
        ("/console/staff/grants", "/console/staff"),
        ("/console/accounts/erasures", "/console/accounts"),
    ],
)
def test_a_form_posted_after_the_session_ended_comes_back_to_its_page_after_logging_in(posted_to, back_to):
    client = portal_client(EndedSession(), config={"TESTING": False})
    login = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    with client.session_transaction() as session:
        session["token"] = "ended-token"
    ended = client.post(posted_to, data={"csrf_token": token, "subject_en": "Summit"})
    assert (ended.status_code, ended.headers["Location"]) == (303, "/login?reason=expired")
    page = client.get(ended.headers["Location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    logged_in = client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    assert (logged_in.status_code, logged_in.headers["Location"]) == (303, back_to)


class EditorSession(EndedSession):
    """Identity: a newsletter editor with the second factor, whose session's first token has ended."""

    def me(self, token: str) -> dict[str, object]:
        if token == "ended-token":
            raise ApiError(401, "token-expired")
        return {"email": "editor@example.org", "roles": ["newsletter-editor"], "second_factor": True}


# What a browser sends with a page script's fetch or XHR (Fetch Metadata), never with a form or a link.
SCRIPT_REQUEST = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "same-origin"}


def test_a_live_preview_asked_after_the_session_ended_leaves_the_form_to_go_to_the_login_page():
    """The editor's script asks for the preview as they type: after 15 minutes the token has ended, and
    that request is the first to find out. Its answer is no page to put in the preview (the login page),
    and it ends nothing: the form saved next goes to the login page and back, as any other."""
    client = portal_client(EditorSession(), config={"TESTING": False}, fakes={"issues": PastTimeIssue()})
    with client.session_transaction() as session:
        session["token"] = "a-token"
    issue = f"/console/newsletter/{UPLOAD}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(issue).text).group(1)  # type: ignore[union-attr]
    with client.session_transaction() as session:
        session["token"] = "ended-token"
    typed = {"csrf_token": token, "subject_en": "Summit", "body_en": "Typed as the session ended."}
    preview = client.post("/console/newsletter/previews", data=typed, headers=SCRIPT_REQUEST)
    assert preview.status_code == 401 and "Location" not in preview.headers
    assert "Your session has ended. Please log in again." in preview.text
    saved = client.post(issue, data={**typed, "action": "save"})
    assert (saved.status_code, saved.headers["Location"]) == (303, "/login?reason=expired")
    with client.session_transaction() as session:
        assert session.get("return_to") == issue


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/console/newsletter/previews"), ("GET", "/console/videos")]
)
def test_a_script_asking_after_a_logout_in_another_tab_is_told_the_session_ended_not_sent_the_login_page(
    method, path
):
    """The session holds no token at all (logged out in another tab): the live preview followed the
    redirect and put the login page in the preview; a page following its work kept asking."""
    client = portal_client(EditorSession(), config={"TESTING": False}, fakes={"issues": PastTimeIssue()})
    issue = f"/console/newsletter/{UPLOAD}"
    with client.session_transaction() as session:
        session["token"] = "a-token"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(issue).text).group(1)  # type: ignore[union-attr]
    with client.session_transaction() as session:
        del session["token"]
    asked = client.open(path, method=method, data={"csrf_token": token}, headers=SCRIPT_REQUEST)
    assert asked.status_code == 401 and "Location" not in asked.headers
    assert asked.json["type"].endswith("/session-ended")  # type: ignore[index]
