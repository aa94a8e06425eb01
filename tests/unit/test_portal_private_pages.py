"""Pages showing a visitor's own data before they are signed in (the email of a sign-up or a reset
under way, a refused form with the email typed) are kept by no cache, as a signed-in visitor's pages."""

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import FakeIdentity, csrf_token, portal_client
from tests.unit.test_portal_outages import EMAIL
from tests.unit.test_portal_outages import TwoStepLoginGoneAfterThePassword as TwoStepLogin


class RefusingIdentity(FakeIdentity):
    """Identity taking registrations and resets, and refusing every password."""

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        raise ApiError(401, "invalid-credentials")


def no_store(page) -> bool:  # type: ignore[no-untyped-def]
    return "no-store" in page.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    ("start", "form", "page"),
    [
        ("/signup", {"email": EMAIL, "password": "x"}, "/signup/verify"),
        ("/password-reset", {"email": EMAIL}, "/password-reset/code"),
    ],
)
def test_the_code_page_showing_the_email_of_a_flow_under_way_is_not_stored(start, form, page):
    client = portal_client(FakeIdentity())
    token = csrf_token(client, start)
    client.post(start, data={"csrf_token": token, **form})
    shown = client.get(page)
    assert shown.status_code == 200 and EMAIL in shown.text
    assert no_store(shown)


def test_a_refused_login_showing_the_email_typed_is_not_stored():
    client = portal_client(RefusingIdentity())
    token = csrf_token(client, "/login")
    refused = client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": "x"})
    assert refused.status_code == 400 and EMAIL in refused.text
    assert no_store(refused)


def test_the_code_page_of_a_login_under_way_is_not_stored():
    client = portal_client(TwoStepLogin())
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": "right"})
    code_page = client.get("/login/code")
    assert code_page.status_code == 200
    assert no_store(code_page)
