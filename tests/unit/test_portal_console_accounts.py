"""The console's Accounts page (support) with fakes of identity and the mailer behind it."""

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
