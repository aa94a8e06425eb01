"""My account's choice of the language of its mails, over a fake identity: what the portal asks for,
what it says, and that a refusal or an outage stays a page."""

import pytest

from portal.adapters.http import ApiError, ServiceUnavailable
from tests.unit.test_portal import csrf_token, portal_client


class LanguageIdentity:
    """Identity keeping one account's language; `failure`, when set, is raised by the change."""

    def __init__(self, locale: str = "en", failure: Exception | None = None) -> None:
        self.locale, self.failure = locale, failure
        self.changes: list[str] = []

    def me(self, token: str) -> dict[str, object]:
        return {"email": "a@example.org", "roles": [], "locale": self.locale}

    def change_locale(self, token: str, locale: str) -> dict[str, object]:
        if self.failure is not None:
            raise self.failure
        self.changes.append(locale)
        self.locale = locale
        return self.me(token)


def signed_in(identity: LanguageIdentity, language: str = "en"):  # type: ignore[no-untyped-def]
    client = portal_client(identity, config={"TESTING": False})
    with client.session_transaction() as session:
        session.update(token="a-token", locale=language)
    return client, csrf_token(client, "/account")


def checked(page_text: str) -> list[str]:
    return [code for code in ("en", "fr") if f'value="{code}" checked' in page_text]


@pytest.mark.parametrize(
    ("page_language", "said"),
    [
        ("en", "We will write to you in French from now on."),
        ("fr", "Nous vous écrirons désormais en français."),
    ],
)
def test_the_account_page_changes_the_language_of_the_mails_and_says_so(page_language, said):
    identity = LanguageIdentity()
    client, token = signed_in(identity, page_language)
    assert checked(client.get("/account").text) == ["en"]
    changed = client.post("/account/language", data={"csrf_token": token, "mail_language": "fr"})
    assert (changed.status_code, changed.headers["Location"]) == (303, "/account")
    page = client.get("/account")
    assert identity.changes == ["fr"] and checked(page.text) == ["fr"]
    assert said in page.text and f'<html lang="{page_language}">' in page.text  # the page keeps its own


@pytest.mark.parametrize("chosen", ["de", "", "FR"])
def test_a_language_the_portal_does_not_offer_is_refused_by_the_field(chosen):
    identity = LanguageIdentity()
    client, token = signed_in(identity)
    refused = client.post("/account/language", data={"csrf_token": token, "mail_language": chosen})
    assert refused.status_code == 400 and identity.changes == []
    assert 'id="mail_language-errors"><li>Choose English or French.</li>' in refused.text


def test_identity_refusing_or_away_leaves_a_page_that_says_so():
    away = LanguageIdentity(failure=ServiceUnavailable("identity", "refused"))
    client, token = signed_in(away, "fr")
    answer = client.post("/account/language", data={"csrf_token": token, "mail_language": "fr"})
    assert answer.status_code == 503 and "Le service des comptes est indisponible." in answer.text
    refusing = LanguageIdentity(
        failure=ApiError(422, "validation-error", errors={"locale": ["Must be one of: en, fr."]})
    )
    client, token = signed_in(refusing)
    answer = client.post("/account/language", data={"csrf_token": token, "mail_language": "fr"})
    assert answer.status_code == 400 and 'id="mail_language-errors"' in answer.text


def test_an_ended_session_sends_to_the_login_page():
    ended = LanguageIdentity(failure=ApiError(401, "invalid-token"))
    client, token = signed_in(ended)
    answer = client.post("/account/language", data={"csrf_token": token, "mail_language": "fr"})
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("address", "clean"),
    [
        ("/login?lang=fr", "/login"),
        ("/?q=sommet&lang=fr&page=2", "/?q=sommet&page=2"),
        ("/password-reset?lang=fr&lang=en", "/password-reset"),
    ],
)
def test_a_mails_link_opens_the_portal_in_its_language_then_the_clean_address(address, clean):
    client = portal_client()
    opened = client.get(address, headers={"Accept-Language": "en"})
    assert (opened.status_code, opened.headers["Location"]) == (303, clean)
    page = client.get(clean, headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in page.text  # kept for the session: the switch and later pages speak it


def test_a_language_the_portal_does_not_speak_leaves_the_page_in_its_own():
    client = portal_client()
    opened = client.get("/login?lang=de", headers={"Accept-Language": "fr"})
    assert (opened.status_code, opened.headers["Location"]) == (303, "/login")
    assert '<html lang="fr">' in client.get("/login", headers={"Accept-Language": "fr"}).text


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/"])
def test_the_clean_address_stays_on_this_site(path):
    asked = {"PATH_INFO": path, "QUERY_STRING": "lang=fr"}  # as a server hands it over
    opened = portal_client().get("/", environ_overrides=asked)
    assert opened.status_code == 303 and opened.headers["Location"] in ("/", "/evil.example/")
