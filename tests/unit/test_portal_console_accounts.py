"""The console's Accounts page (support) with fakes of identity and the mailer behind it."""

import re

import pytest

from portal.adapters.http import ApiError
from tests.unit.test_portal import FakeMailer, FakeStaff, SupportStaffIdentity, csrf_token, staff_client

PENDING = {**FakeStaff.ACCOUNT, "verified": False}


class LimitedStaff(FakeStaff):
    """A pending account whose "Send a new code" identity refuses: too many for this email."""

    def account(self, token: str, email: str) -> dict[str, object]:
        return PENDING

    def resend_code(self, token: str, email: str) -> bool:
        raise ApiError(429, "rate-limited", "Too many requests. Try again later.")


def test_a_new_code_refused_for_too_many_requests_says_so_on_the_accounts_page():
    client = staff_client(SupportStaffIdentity(), staff=LimitedStaff(ApiError(404, "")), mailer=FakeMailer())
    token = csrf_token(client, "/console/accounts?email=p@example.org")
    form = {"csrf_token": token, "email": "p@example.org"}
    answer = client.post("/console/accounts/code-resends", data=form, headers={"Accept-Language": "fr"})
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"], headers={"Accept-Language": "fr"})
    assert page.status_code == 200 and "<h1>Comptes</h1>" in page.text
    assert "Trop de tentatives." in page.text


class UnreadableAddressStaff(LimitedStaff):
    """Identity refusing the address of "Send a new code" (the form's hidden field, changed)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def account(self, token: str, email: str) -> dict[str, object]:
        raise ApiError(422, "validation-error", errors={"email": [self.message]})

    def resend_code(self, token: str, email: str) -> bool:
        return bool(self.account(token, email))


@pytest.mark.parametrize(
    ("email", "message", "said"),
    [
        ("p@", "Not a valid email address.", "Saisissez une adresse électronique valide"),
        ("p\x00@example.org", "Contains the control character U+0000.", "Retirez les caractères invisibles"),
    ],
)
def test_a_new_code_for_an_address_identity_cannot_read_says_so_next_to_the_address(email, message, said):
    staff = UnreadableAddressStaff(message)
    client = staff_client(SupportStaffIdentity(), staff=staff, mailer=FakeMailer())
    token = csrf_token(client, "/console/accounts")
    form = {"csrf_token": token, "email": email}
    answer = client.post("/console/accounts/code-resends", data=form, headers={"Accept-Language": "fr"})
    assert answer.status_code == 400 and "<h1>Comptes</h1>" in answer.text
    errors = re.search(r'<ul class="errors" id="email-errors">(.*?)</ul>', answer.text, re.S)
    assert errors and said in errors.group(1)
