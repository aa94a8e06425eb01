"""The public flows at their edges: a code pasted with spaces, the last second of the resend wait,
a refused form's page title."""

import html
import re
import time
from types import SimpleNamespace

import pytest

from portal.adapters.http import ApiError, ServiceUnavailable
from portal.entrypoints import web
from tests.unit.test_portal import FakeCatalogue, FakeIdentity, csrf_token, portal_client

FRENCH = {"Accept-Language": "fr"}


class CodeIdentity(FakeIdentity):
    """Identity accepting only the code 123456, and refusing anything but six digits as its schema does."""

    def verify(self, email: str, code: str, registration_id: str) -> str:
        return self.check(code, "a-token")

    def verify_password_reset(self, email: str, code: str) -> str:
        return self.check(code, "a-reset-token")

    def check(self, code: str, answer: str) -> str:
        self.calls.append(("code", code))
        if not (len(code) == 6 and code.isdigit()):
            errors = {"code": ["The code is 6 digits."]}
            raise ApiError(422, "validation-error", "Invalid input", errors=errors)
        if code != "123456":
            raise ApiError(400, "invalid-code", "Wrong code")
        return answer

    def me(self, token: str) -> dict[str, str]:
        return {"email": "a@example.org", "locale": "en"}


def at_code_page(identity: FakeIdentity, flow: str, **settings: object):  # type: ignore[no-untyped-def]
    """A client on the code page of `flow` (signup or resets), with its CSRF token."""
    client = portal_client(identity, **settings)
    token = csrf_token(client, "/signup")
    if flow == "signup":
        client.post("/signup", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    else:
        client.post("/password-reset", data={"csrf_token": token, "email": "a@example.org"})
    return client, token


@pytest.mark.parametrize(
    ("flow", "path", "next_page"),
    [("signup", "/signup/verify", "/signup/done"), ("resets", "/password-reset/code", "/password-reset/new")],
)
@pytest.mark.parametrize("typed", ["123456 ", " 123456", "123 456", "123456\n"])
def test_a_code_pasted_with_spaces_is_the_code(flow, path, next_page, typed):
    identity = CodeIdentity()
    client, token = at_code_page(identity, flow)
    answer = client.post(path, data={"csrf_token": token, "code": typed})
    assert (answer.status_code, answer.headers.get("Location")) == (303, next_page)
    assert identity.calls[-1] == ("code", "123456")


class LockedCodeEntry(CodeIdentity):
    """Identity with the email's code entry locked for 23 hours (ten wrong codes today)."""

    def check(self, code: str, answer: str) -> str:
        self.calls.append(("code", code))
        raise ApiError(400, "code-locked", "Too many wrong codes today", members={"retry_after": 23 * 3600})


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Too many wrong codes for this address: no code works for now. Try again in 23 hours."),
        ("fr", "Trop de codes erronés pour cette adresse : aucun code ne fonctionne pour l’instant. "
               "Réessayez dans 23 heures."),
    ],
)  # fmt: skip
@pytest.mark.parametrize(("flow", "path"), [("signup", "/signup/verify"), ("resets", "/password-reset/code")])
def test_a_locked_code_entry_says_when_to_come_back_not_to_ask_for_a_new_code(flow, path, language, said):
    client, token = at_code_page(LockedCodeEntry(), flow)
    page = client.post(
        path, data={"csrf_token": token, "code": "123456"}, headers={"Accept-Language": language}
    )
    assert page.status_code == 400
    assert said in html.unescape(page.text)


@pytest.mark.parametrize(
    ("language", "said", "countdown"),
    [
        ("en", "You can ask for a new code in 1 second.", "You can ask for a new code in {seconds} second."),
        ("fr", "Vous pourrez demander un nouveau code dans 1 seconde.", "dans {seconds} seconde."),
    ],
)
def test_the_last_second_of_the_wait_for_a_new_code_is_said_in_the_singular(
    monkeypatch, language, said, countdown
):
    client, token = at_code_page(FakeIdentity(), "signup", resend_cooldown_s=60)
    sent_at = time.time()
    with client.session_transaction() as session:
        session["signup"] = {**session["signup"], "sent_at": sent_at}
    monkeypatch.setattr(web, "time", SimpleNamespace(time=lambda: sent_at + 59.5))  # 0.5 s left: 1 s to wait
    headers = {"Accept-Language": language}
    too_early = client.post("/signup/resend", data={"csrf_token": token}, headers=headers)
    text = html.unescape(too_early.text)
    assert too_early.status_code == 429
    assert text.count(said) == 2  # next to the button, and in the hint the countdown starts from
    assert countdown in text  # the countdown's own wording for its last second


class RefusingIdentity(CodeIdentity):
    """Identity refusing every login and every new password."""

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        raise ApiError(401, "invalid-credentials", "Invalid credentials")

    def register(self, email: str, password: str, locale: str) -> dict[str, str]:
        raise ApiError(422, "validation-error", "Invalid input", errors={"password": ["Include a number."]})


def title_of(page) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.search(r"<title>(.*?)</title>", page.text).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "form", "title"),
    [
        ("/login", {"email": "a@example.org", "password": "x"}, "Erreur : Se connecter — "),
        ("/signup", {"email": "a@example.org", "password": "x"}, "Erreur : Créer un compte — "),
    ],
)
def test_a_refused_forms_page_title_says_there_is_an_error(path, form, title):
    client = portal_client(RefusingIdentity())
    token = csrf_token(client, path)
    shown = client.get(path, headers=FRENCH)
    refused = client.post(path, data={"csrf_token": token, **form}, headers=FRENCH)
    assert not title_of(shown).startswith("Erreur")
    assert refused.status_code == 400
    assert title_of(refused).startswith(title)


def test_a_wrong_code_is_said_in_the_code_pages_title():
    client, token = at_code_page(CodeIdentity(), "signup")
    refused = client.post("/signup/verify", data={"csrf_token": token, "code": "000000"}, headers=FRENCH)
    assert refused.status_code == 400
    assert title_of(refused).startswith("Erreur : Consultez votre messagerie")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_code_page_of_a_registration_verified_in_another_tab_says_the_account_is_created(method):
    identity = CodeIdentity()
    client, token = at_code_page(identity, "signup")
    first_tab = client.post("/signup/verify", data={"csrf_token": token, "code": "123456"})
    assert first_tab.headers["Location"] == "/signup/done"
    token = csrf_token(client, "/signup")  # the signed-in session's (the other tab's reloaded form)
    other_tab = client.open("/signup/verify", method=method, data={"csrf_token": token, "code": "123456"})
    assert (other_tab.status_code, other_tab.headers["Location"]) == (303, "/signup/done")
    assert identity.calls.count(("code", "123456")) == 1


def test_a_reset_code_already_accepted_is_not_asked_for_again_and_not_sent_twice():
    identity = CodeIdentity()
    client, token = at_code_page(identity, "resets")
    accepted = client.post("/password-reset/code", data={"csrf_token": token, "code": "123456"})
    assert accepted.headers["Location"] == "/password-reset/new"
    back = client.get("/password-reset/code")  # the back button
    again = client.post(
        "/password-reset/code", data={"csrf_token": token, "code": "123456"}
    )  # a double submit
    assert (back.status_code, back.headers.get("Location")) == (303, "/password-reset/new")
    assert (again.status_code, again.headers.get("Location")) == (303, "/password-reset/new")
    assert identity.calls.count(("code", "123456")) == 1


@pytest.mark.parametrize(
    ("flow", "path", "step"),
    [
        ("signup", "/signup/verify", "Créer un compte"),
        ("resets", "/password-reset/code", "Réinitialiser le mot de passe"),
    ],
)
def test_the_code_pages_title_names_its_flow(flow, path, step):
    client, _ = at_code_page(CodeIdentity(), flow)
    title = title_of(client.get(path, headers=FRENCH))
    assert title.startswith(f"Consultez votre messagerie et saisissez le code de vérification — {step} — ")


class TwoStepLogin(FakeIdentity):
    """Identity logging in only with the app's code 123456, as identity reads a second factor: six
    digits are a TOTP code, anything else a recovery code (which "123 456" is not)."""

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        raise ApiError(401, "mfa-required", members={"challenge": "the-challenge"})

    def log_in_with_challenge(self, challenge: str, totp: str) -> str:
        self.calls.append(("log_in", totp))
        if totp != "123456":
            raise ApiError(401, "invalid-second-factor", "Invalid second factor")
        return "a-token"

    def me(self, token: str) -> dict[str, str]:
        return {"email": "a@example.org", "locale": "en"}


@pytest.mark.parametrize("typed", ["123 456", " 123456 ", "123\u00a0456"])
def test_the_authenticator_apps_code_as_the_app_shows_it_logs_in(typed):
    identity = TwoStepLogin()
    client = portal_client(identity)
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    answer = client.post("/login/code", data={"csrf_token": token, "totp": typed})
    assert (answer.status_code, answer.headers.get("Location")) == (303, "/")
    assert identity.calls == [("log_in", "123456")]


@pytest.mark.parametrize(
    ("minutes_after", "language", "said"),
    [
        (0, "en", "This code will expire in 30 minutes."),
        (25, "en", "This code will expire in 5 minutes."),
        (29.5, "en", "This code will expire in 1 minute."),
        (29.5, "fr", "Ce code expirera dans 1 minute."),
        (31, "en", "This code has expired. Ask for a new code."),
        (31, "fr", "Ce code a expiré. Demandez un nouveau code."),
    ],
)
def test_the_code_page_says_how_long_the_code_sent_still_lasts(monkeypatch, minutes_after, language, said):
    client, _ = at_code_page(FakeIdentity(), "resets", code_lifetime_s=1800)
    sent_at = time.time()
    with client.session_transaction() as session:
        session["reset"] = {**session["reset"], "sent_at": sent_at}
    monkeypatch.setattr(web, "time", SimpleNamespace(time=lambda: sent_at + minutes_after * 60))
    page = client.get("/password-reset/code", headers={"Accept-Language": language})
    assert said in html.unescape(page.text)


@pytest.mark.parametrize(
    ("address", "title"),
    [
        ("/", "Vidéos — "),
        ("/?page=2", "Vidéos — Page 2 — "),
        ("/?q=summit", "Vidéos correspondant à « summit » — "),
        ("/?q=summit&page=2", "Vidéos correspondant à « summit » — Page 2 — "),
    ],
)
def test_the_video_lists_title_says_which_search_and_which_page(address, title):
    client = portal_client(fakes={"catalogue": FakeCatalogue()})
    assert title_of(client.get(address, headers=FRENCH)).startswith(title)


class LinkNewsletter:
    """The newsletter's answers to unsubscribe links: only "genuine" is one."""

    def link_is_genuine(self, token: str) -> bool:
        return token == "genuine"

    def unsubscribe_by_link(self, token: str) -> bool:
        return token == "genuine"


@pytest.mark.parametrize(
    ("method", "token", "title"),
    [
        ("GET", "genuine", "Se désabonner de notre lettre d’information — "),
        ("POST", "genuine", "Vous êtes désabonné — "),
        ("GET", "forged", "Erreur : Ce lien de désabonnement n’est pas valide — "),
        ("POST", "forged", "Erreur : Ce lien de désabonnement n’est pas valide — "),
    ],
)
def test_the_unsubscribe_pages_title_says_the_step_and_a_link_that_is_not_valid(method, token, title):
    client = portal_client(fakes={"newsletter": LinkNewsletter()})
    page = client.open(
        f"/newsletter/unsubscribe?token={token}&lang=fr",
        method=method,
        data={"List-Unsubscribe": "One-Click"},
    )
    assert title_of(page).startswith(title)


def test_an_error_pages_title_says_which_error():
    page = portal_client().get("/no-such-page", headers=FRENCH)
    assert page.status_code == 404
    assert title_of(page).startswith("Erreur : Cette page n’existe pas. — ")


class ResetIdentity(CodeIdentity):
    def complete_password_reset(self, reset_token: str, new_password: str) -> None:
        self.calls.append(("complete", reset_token))


@pytest.mark.parametrize("path", ["/password-reset/code", "/password-reset/new"])
def test_the_back_button_after_a_completed_reset_says_the_password_is_updated(path):
    identity = ResetIdentity()
    client, token = at_code_page(identity, "resets")
    client.post("/password-reset/code", data={"csrf_token": token, "code": "123456"})
    completed = client.post("/password-reset/new", data={"csrf_token": token, "password": "New-Horse-9!"})
    assert completed.headers["Location"] == "/password-reset/done"
    back = client.get(path)
    assert (back.status_code, back.headers.get("Location")) == (303, "/password-reset/done")
    assert identity.calls.count(("complete", "a-reset-token")) == 1


def test_the_code_field_lets_a_code_pasted_with_spaces_through_whole():
    # A browser cuts what is pasted at the field's maxlength: " 123456" would arrive as " 12345".
    client, _ = at_code_page(CodeIdentity(), "signup")
    field = re.search(r"<input id=\"code\"[^>]*>", client.get("/signup/verify").text).group(0)  # type: ignore[union-attr]
    maxlength = re.search(r'maxlength="(\d+)"', field)
    assert maxlength is None or int(maxlength.group(1)) >= len(" 123 456 ")
    assert 'autocomplete="one-time-code"' in field and 'inputmode="numeric"' in field


class IdentityDown(FakeIdentity):
    """Identity taking the registration and the reset, then not answering."""

    def resend_code(self, email: str, registration_id: str) -> None:
        raise ServiceUnavailable("identity", "connection refused")

    def verify(self, email: str, code: str, registration_id: str) -> str:
        raise ServiceUnavailable("identity", "connection refused")

    def verify_password_reset(self, email: str, code: str) -> str:
        raise ServiceUnavailable("identity", "connection refused")


@pytest.mark.parametrize(
    ("flow", "path"),
    [
        ("signup", "/signup/verify"),
        ("signup", "/signup/resend"),
        ("resets", "/password-reset/code"),
    ],
)
def test_identity_not_answering_a_code_page_keeps_the_code_page_and_says_so(flow, path):
    client, token = at_code_page(IdentityDown(), flow, resend_cooldown_s=0)
    page = client.post(path, data={"csrf_token": token, "code": "123456"}, headers=FRENCH)
    text = html.unescape(page.text)
    assert page.status_code == 503
    assert "Consultez votre messagerie et saisissez le code de vérification" in text  # still the code page
    assert "Le service des comptes est indisponible. Veuillez réessayer dans quelques minutes." in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz?probe=%00", 422),
        ("GET", "/readyz?probe=%00", 422),
        ("GET", "/metrics?probe=%0A", 422),
        ("GET", "/openapi.json?probe=%00", 422),
        ("POST", "/healthz", 405),
    ],
)
def test_the_operations_endpoints_answer_bad_input_with_a_problem_as_the_services_do(method, path, status):
    answer = portal_client().open(path, method=method)
    assert (answer.status_code, answer.mimetype) == (status, "application/problem+json")
    assert answer.json["status"] == status
