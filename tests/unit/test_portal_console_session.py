"""A staff member's session ending while a console form is being filled in."""

import re

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import UPLOAD, FakeLogin, portal_client


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
