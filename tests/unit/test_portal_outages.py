"""The public forms when identity does not answer: the form stays, with what was typed in it but the
password, and says the account service is unavailable, in the page's language."""

import html
import re

import jwt
import pytest

from portal.adapters.http import ServiceUnavailable
from tests.unit.test_portal import csrf_token, portal_client
from tests.unit.test_portal_edges import CodeIdentity
from tests.unit.test_portal_login_code import FakeTwoStepLogin

FRENCH = {"Accept-Language": "fr"}
UNAVAILABLE = "Le service des comptes est indisponible. Veuillez réessayer dans quelques minutes."
EMAIL = "Ana.Silva+news@example.org"
PASSWORD = "Épée-sûre-2026!"


def field_value(page, name: str) -> str | None:  # type: ignore[no-untyped-def]
    found = re.search(rf'<input id="{name}" name="{name}" type="[a-z]+" value="([^"]*)"', page.text)
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize(
    ("path", "form", "heading"),
    [
        ("/login", {"email": EMAIL, "password": PASSWORD}, "<h1>Se connecter</h1>"),
        ("/signup", {"email": EMAIL, "password": PASSWORD}, "<h1>Créer un compte</h1>"),
        ("/password-reset", {"email": EMAIL}, "<h1>Réinitialiser le mot de passe</h1>"),
    ],
)
def test_a_form_identity_does_not_answer_stays_with_the_email_typed_and_says_so(path, form, heading):
    client = portal_client()  # nothing listens at identity's address
    token = csrf_token(client, path)
    page = client.post(path, data={"csrf_token": token, **form}, headers=FRENCH)
    assert page.status_code == 503
    assert heading in page.text, "the form itself, not an error page"
    assert UNAVAILABLE in html.unescape(page.text)
    assert field_value(page, "email") == EMAIL
    assert PASSWORD not in html.unescape(page.text)
    assert field_value(page, "password") in (None, "")


class IdentityGoneAfterTheCode(CodeIdentity):
    """Identity accepting the reset code, then not answering."""

    def complete_password_reset(self, reset_token: str, new_password: str) -> None:
        raise ServiceUnavailable("identity", "connection refused")


def test_a_new_password_identity_does_not_answer_keeps_the_new_password_page_and_the_reset():
    identity = IdentityGoneAfterTheCode()
    client = portal_client(identity)
    token = csrf_token(client, "/password-reset")
    client.post("/password-reset", data={"csrf_token": token, "email": "a@example.org"})
    client.post("/password-reset/code", data={"csrf_token": token, "code": "123456"})
    form = {"csrf_token": token, "password": PASSWORD}
    page = client.post("/password-reset/new", data=form, headers=FRENCH)
    assert page.status_code == 503
    assert "<h1>Créez un nouveau mot de passe</h1>" in page.text
    assert UNAVAILABLE in html.unescape(page.text) and PASSWORD not in html.unescape(page.text)
    assert "Recommencer" not in page.text, "the reset is not over: nothing to start again"
    assert client.get("/password-reset/new").status_code == 200, "the reset goes on once identity is back"


class TwoStepLoginGoneAfterThePassword(FakeTwoStepLogin):
    """Identity answering the password with a challenge, then not answering."""

    def log_in_with_challenge(self, challenge: str, totp: str) -> str:
        raise ServiceUnavailable("identity", "connection refused")


def test_a_login_code_identity_does_not_answer_keeps_the_code_page_and_the_login_under_way():
    client = portal_client(TwoStepLoginGoneAfterThePassword())
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "right"})
    page = client.post("/login/code", data={"csrf_token": token, "totp": "123456"}, headers=FRENCH)
    assert page.status_code == 503
    assert "<h1>Connexion : code de votre application d’authentification</h1>" in html.unescape(page.text)
    assert UNAVAILABLE in html.unescape(page.text)
    assert client.get("/login/code").status_code == 200, "the login under way goes on once identity is back"


class GoneOnceItAnswered:
    """Identity that stops answering once it has answered the step that logs in (`me` is asked next)."""

    def me(self, token: str) -> dict[str, object]:
        raise ServiceUnavailable("identity", "connection refused")


class TwoStepLoginGoneAfterTheCode(GoneOnceItAnswered, FakeTwoStepLogin):
    """Identity taking the code (spent now: it is refused if sent again) and answering with a token,
    then not answering."""

    def log_in_with_challenge(self, challenge: str, totp: str) -> str:
        super().log_in_with_challenge(challenge, totp)
        claims = {
            "sub": "5f0c3b9e-7d2a-4c1b-8e6f-2a9d4c7b1e30",
            "email": "a@example.org",
            "roles": ["support"],
        }
        return jwt.encode(claims, "identity's own key, which the portal does not hold", algorithm="HS256")


def test_a_login_whose_code_identity_took_is_signed_in_though_identity_stops_answering_right_after():
    identity = TwoStepLoginGoneAfterTheCode()
    client = portal_client(identity)
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "right"})
    signed_in = client.post("/login/code", data={"csrf_token": token, "totp": "123456"})
    assert signed_in.status_code == 303
    with client.session_transaction() as session:
        assert (session["email"], session["staff"]) == ("a@example.org", True)
    assert [call[0] for call in identity.calls].count("log_in_with_challenge") == 1


class IdentityGoneAfterTheSignupCode(GoneOnceItAnswered, CodeIdentity):
    """Identity verifying the registration's code (the account is created, the code spent), then not
    answering."""


def test_an_account_verified_is_signed_in_though_identity_stops_answering_right_after():
    identity = IdentityGoneAfterTheSignupCode()
    client = portal_client(identity)
    token = csrf_token(client, "/signup")
    form = {"csrf_token": token, "email": "a@example.org", "password": PASSWORD}
    client.post("/signup", data=form, headers=FRENCH)
    verified = client.post("/signup/verify", data={"csrf_token": token, "code": "123456"}, headers=FRENCH)
    assert (verified.status_code, verified.headers.get("Location")) == (303, "/signup/done")
    created = client.get("/signup/done")  # no Accept-Language: the account's language, chosen at sign-up
    assert created.status_code == 200 and '<html lang="fr">' in created.text
    assert "Votre compte a bien été créé" in html.unescape(created.text)
    assert identity.calls.count(("code", "123456")) == 1, "the code, spent, is never sent again"


def test_the_account_created_page_says_the_newsletter_is_unavailable_rather_than_offer_it():
    client = portal_client()  # nothing listens at the newsletter's address
    with client.session_transaction() as session:
        session.update(token="a-token", email="a@example.org")
    page = client.get("/signup/done", headers=FRENCH)
    assert page.status_code == 200
    assert "La lettre d’information est indisponible." in html.unescape(page.text)
    assert 'name="subscribe"' not in page.text, "no button that can only fail"
