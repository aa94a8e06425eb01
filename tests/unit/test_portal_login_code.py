"""The login's second step on the portal, with a fake of identity behind it: a right password of an
account with a second factor leads to a page asking only for the code, whose challenge the session
keeps sealed."""

import re
import time

import pytest

from portal.adapters.http import ApiError, _api_error
from tests.unit.test_portal import FakeIdentity, csrf_token, portal_client
from tests.unit.test_portal_edges import title_of
from tests.unit.test_portal_two_step import readable_session

CHALLENGE = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjaGFsbGVuZ2UtZm9yLWEifQ.c2lnbmF0dXJl"


class FakeTwoStepLogin(FakeIdentity):
    """Identity for an account with a second factor: the password "right" earns CHALLENGE, and the
    code 123456 (or the recovery code aaaa-bbbb) with it logs in."""

    def __init__(self) -> None:
        super().__init__()
        self.challenge_refusal: ApiError | None = None

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        self.calls.append(("log_in", email, password, totp))
        if password != "right":
            raise ApiError(401, "invalid-credentials")
        raise ApiError(401, "mfa-required", members={"challenge": CHALLENGE})

    def log_in_with_challenge(self, challenge: str, totp: str) -> str:
        self.calls.append(("log_in_with_challenge", challenge, totp))
        if self.challenge_refusal is not None:
            raise self.challenge_refusal
        if challenge != CHALLENGE or totp not in ("123456", "aaaa-bbbb"):
            raise ApiError(401, "invalid-second-factor")
        return "token"

    def me(self, token: str) -> dict[str, object]:
        return {"email": "a@example.org", "locale": "en", "roles": ["support"]}


def at_the_code_page(identity: FakeTwoStepLogin, language: str = "en"):  # type: ignore[no-untyped-def]
    client = portal_client(identity, config={"TESTING": False})
    client.get("/videos/42")  # the page to come back to
    token = csrf_token(client, "/login")
    sent = client.post(
        "/login",
        data={"csrf_token": token, "email": "a@example.org", "password": "right"},
        headers={"Accept-Language": language},
    )
    assert (sent.status_code, sent.headers["Location"]) == (303, "/login/code")
    return client, token


@pytest.mark.parametrize(
    ("language", "step", "back"),
    [
        ("en", "Log in: code from your authenticator app", "Use another account"),
        ("fr", "Connexion : code de votre application d’authentification", "Utiliser un autre compte"),
    ],
)
def test_a_right_password_leads_to_a_page_asking_only_for_the_code(language, step, back):
    client, _ = at_the_code_page(FakeTwoStepLogin(), language)
    page = client.get("/login/code", headers={"Accept-Language": language})
    assert page.status_code == 200 and title_of(page).startswith(step)
    code_field = re.search(r"<input id=\"totp\"[^>]*>", page.text, re.S).group(0)  # type: ignore[union-attr]
    assert 'autocomplete="one-time-code"' in code_field and "autofocus" in code_field
    assert 'type="password"' not in page.text and 'id="email"' not in page.text
    assert re.search(rf'<a href="/login">{back}</a>', page.text)


def test_the_challenge_is_never_readable_from_the_session_cookie():
    client, _ = at_the_code_page(FakeTwoStepLogin())
    assert "challenge" not in readable_session(client).lower().replace("login_challenge", "")
    assert CHALLENGE not in readable_session(client) and "eyJ" not in readable_session(client)


def test_the_code_with_the_challenge_logs_in_and_returns_to_the_page_before():
    identity = FakeTwoStepLogin()
    client, token = at_the_code_page(identity)
    logged_in = client.post("/login/code", data={"csrf_token": token, "totp": "123 456"})
    assert (logged_in.status_code, logged_in.headers["Location"]) == (303, "/videos/42")
    assert identity.calls[-1] == ("log_in_with_challenge", CHALLENGE, "123456")
    assert client.get("/login/code").headers["Location"] == "/login", "the challenge is spent"
    assert client.get("/login").status_code == 302, "signed in"


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "This code is not right. Enter the code your app shows now."),
        ("fr", "Ce code est incorrect. Saisissez le code que votre application affiche maintenant."),
    ],
)
def test_a_wrong_code_stays_on_the_code_page_with_the_error(language, said):
    client, token = at_the_code_page(FakeTwoStepLogin(), language)
    wrong = client.post(
        "/login/code", data={"csrf_token": token, "totp": "000000"}, headers={"Accept-Language": language}
    )
    assert wrong.status_code == 400 and said in wrong.text
    assert title_of(wrong).startswith(("Error: ", "Erreur : "))
    assert 'aria-invalid="true"' in re.search(r"<input id=\"totp\"[^>]*>", wrong.text, re.S).group(0)  # type: ignore[union-attr]
    again = client.post("/login/code", data={"csrf_token": token, "totp": "aaaa-bbbb"})
    assert (again.status_code, again.headers["Location"]) == (303, "/videos/42")


def test_an_expired_challenge_sends_to_the_login_with_a_message():
    identity = FakeTwoStepLogin()
    client, token = at_the_code_page(identity)
    identity.challenge_refusal = ApiError(401, "challenge-expired")
    expired = client.post("/login/code", data={"csrf_token": token, "totp": "123456"})
    assert (expired.status_code, expired.headers["Location"]) == (303, "/login")
    login = client.get("/login")
    assert "It took too long to enter the code. Log in again with your password." in login.text
    assert client.get("/login/code").headers["Location"] == "/login", "the challenge is dropped"


def test_a_challenge_kept_over_five_minutes_is_not_sent_and_sends_to_the_login(monkeypatch):
    identity = FakeTwoStepLogin()
    client, token = at_the_code_page(identity)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    late = client.post("/login/code", data={"csrf_token": token, "totp": "123456"})
    assert (late.status_code, late.headers["Location"]) == (303, "/login")
    assert "It took too long to enter the code." in client.get("/login").text
    assert not [call for call in identity.calls if call[0] == "log_in_with_challenge"]


def test_the_code_page_without_a_login_under_way_sends_to_the_login():
    client = portal_client(FakeTwoStepLogin(), config={"TESTING": False})
    token = csrf_token(client, "/login")
    assert client.get("/login/code").headers["Location"] == "/login"
    posted = client.post("/login/code", data={"csrf_token": token, "totp": "123456"})
    assert (posted.status_code, posted.headers["Location"]) == (303, "/login")


def test_a_wrong_password_stays_on_the_login_form():
    identity = FakeTwoStepLogin()
    client = portal_client(identity, config={"TESTING": False})
    token = csrf_token(client, "/login")
    wrong = client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "wrong"})
    assert wrong.status_code == 400 and "The email or password is not right." in wrong.text
    assert 'id="totp"' not in wrong.text


def test_the_problems_extension_members_reach_the_page():
    payload = b'{"type": "/problems/mfa-required", "title": "Unauthorized", "status": 401, "challenge": "c"}'
    error = _api_error(401, payload)
    assert (error.slug, error.members) == ("mfa-required", {"challenge": "c"})


def test_the_code_page_is_never_the_page_returned_to():
    client, token = at_the_code_page(FakeTwoStepLogin())
    menu = re.search(r'<nav class="menu".*?</nav>', client.get("/login/code").text, re.S).group(0)  # type: ignore[union-attr]
    assert 'href="/login"' in menu, "the page remembered before stays the one to return to"
    client.get("/login", query_string={"next": "/login/code"})
    client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "right"})
    logged_in = client.post("/login/code", data={"csrf_token": token, "totp": "123456"})
    assert (logged_in.status_code, logged_in.headers["Location"]) == (303, "/")
