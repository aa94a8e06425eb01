"""Odd input against identity and the newsletter in-process, on their real databases: NUL, control
characters, lone surrogates and absurd nesting are a 422 problem, never a 500 (issue 19, rows 3 and 6)."""

import uuid

import pytest

from tests.integration.conftest import PASSWORD, bearer, register, sign_up

SURROGATE = "\ud800"
DEEP = "[" * 5000 + "]" * 5000


def assert_422(response, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == "/problems/validation-error"
    if field is not None:
        assert field in response.json["errors"], response.json


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/accounts", {"email": f"a{SURROGATE}@example.org", "password": PASSWORD}, "email"),
        ("/v1/accounts", {"email": "a@example.org", "password": f"Pass-{SURROGATE}-word-9"}, "password"),
        ("/v1/accounts", {"email": "a@example.org\u0000", "password": PASSWORD}, "email"),
        ("/v1/sessions", {"email": "a@example.org", "password": f"{SURROGATE}Correct-Horse-9!"}, "password"),
        (
            "/v1/password-resets/completion",
            {"reset_token": SURROGATE, "new_password": PASSWORD},
            "reset_token",
        ),
        (
            "/v1/password-resets/completion",
            {"reset_token": "t", "new_password": f"{SURROGATE}x"},
            "new_password",
        ),
    ],
)
def test_identity_answers_odd_strings_with_a_422(client, path, body, field):
    assert_422(client.post(path, json=body), field)


def test_identity_answers_a_lone_surrogate_in_the_deletion_password_with_a_422(
    client, identity_pool, unique_email
):
    token = sign_up(client, identity_pool, unique_email)
    assert_422(
        client.delete("/v1/accounts/me", json={"password": SURROGATE}, headers=bearer(token)), "password"
    )
    assert client.get("/v1/accounts/me", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path", ["/v1/accounts", "/v1/sessions", "/v1/password-resets"])
def test_identity_answers_absurd_nesting_with_a_422(client, path):
    assert_422(client.post(path, data=DEEP, content_type="application/json"))


@pytest.mark.parametrize(
    "return_to", ["/x\u0000", f"/x{SURROGATE}", "/x\n", "/\t/evil.example", "//evil.example"]
)
def test_a_reset_with_an_odd_return_to_answers_alike_for_every_address(client, identity_pool, return_to):
    verified, pending, unknown = (f"reset-odd-{uuid.uuid4().hex[:12]}@example.org" for _ in range(3))
    sign_up(client, identity_pool, verified)
    register(client, pending)
    answers = [
        client.post("/v1/password-resets", json={"email": email, "return_to": return_to})
        for email in (verified, pending, unknown)
    ]
    for answer in answers:
        assert_422(answer, "return_to")
    assert answers[0].json == answers[1].json == answers[2].json


def test_a_reset_with_a_same_site_return_to_is_still_accepted(client, identity_pool, unique_email):
    sign_up(client, identity_pool, unique_email)
    answer = client.post("/v1/password-resets", json={"email": unique_email, "return_to": "/videos/1?q=a"})
    assert answer.status_code == 202


ISSUE = {
    "subject": {"en": "Our latest updates", "fr": "Nos nouvelles"},
    "body": {"en": "New videos\n\tthis week.\r\n", "fr": "Nouveau\n"},
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ISSUE, "subject": {"en": "a\u0000b"}}, "subject.en"),
        ({**ISSUE, "subject": {"fr": "tab\tin subject"}}, "subject.fr"),
        ({**ISSUE, "subject": {"en": SURROGATE}}, "subject.en"),
        ({**ISSUE, "body": {"en": "a\u0000b"}}, "body.en"),
        ({**ISSUE, "body": {"fr": "<p>\u001b[31m</p>"}}, "body.fr"),
    ],
)
def test_the_newsletter_answers_odd_issues_with_a_422(newsletter_client, newsletter_editor, body, field):
    assert_422(newsletter_client.post("/v1/issues", json=body, headers=newsletter_editor), field)


def test_the_newsletter_answers_absurd_nesting_with_a_422(newsletter_client, newsletter_editor):
    assert_422(
        newsletter_client.post(
            "/v1/issues", data=DEEP, content_type="application/json", headers=newsletter_editor
        )
    )


def test_an_issue_keeps_the_lines_and_tabs_of_its_text(newsletter_client, newsletter_editor):
    created = newsletter_client.post("/v1/issues", json=ISSUE, headers=newsletter_editor)
    assert created.status_code in (201, 202), created.json
