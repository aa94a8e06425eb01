"""The console's Staff page (admins) with a fake of identity's staff API behind it."""

import re

from werkzeug.test import TestResponse

from portal.adapters.http import ApiError
from tests.unit.test_portal import AdminIdentity, FakeStaffDirectory, csrf_token, staff_client


def grant_refused_by(directory: FakeStaffDirectory, email: str) -> TestResponse:
    """The Staff page's answer to granting `email` the support role, when `directory` refuses it."""
    client = staff_client(AdminIdentity(), staff=directory)
    form = {"csrf_token": csrf_token(client, "/console/staff"), "email": email, "role": "support"}
    return client.post("/console/staff/grants", data=form)


class UnknownGrantee(FakeStaffDirectory):
    """Identity refusing a grant: no verified account has the address."""

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        raise ApiError(404, "unknown-account")


def test_a_refused_grant_keeps_the_address_and_the_role_chosen():
    refused = grant_refused_by(UnknownGrantee(), "new@example.org")
    assert refused.status_code == 404
    assert "No verified account has this email address." in refused.text
    assert 'value="new@example.org"' in refused.text
    assert re.search(r'<option value="support" selected>', refused.text)


class RefusedRole(FakeStaffDirectory):
    """Identity refusing a grant for its role (one it does not know, or no longer)."""

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        raise ApiError(422, "validation-error", errors={"role": ["Must be one of: admin, support."]})


def test_a_refused_role_is_said_next_to_the_role_field():
    refused = grant_refused_by(RefusedRole(), "ed@example.org")
    assert refused.status_code == 400
    errors = re.search(r'<ul class="errors" id="role-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Check this field and try again." in errors.group(1)
    assert re.search(r'<select id="role" name="role"[^>]*aria-describedby="role-errors"', refused.text)


class RecordedChanges(FakeStaffDirectory):
    """Identity's staff API, recording the role changes asked for."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, bool]] = []

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        self.changes.append((email, role, grant))
        return True


def test_revoking_a_role_asks_for_a_confirmation_first():
    directory = RecordedChanges()
    client = staff_client(AdminIdentity(), staff=directory)
    form = {"csrf_token": csrf_token(client, "/console/staff"), "email": "ed@example.org", "role": "support"}
    asking = client.post("/console/staff/revocations", data=form)
    assert asking.status_code == 200 and directory.changes == []
    assert "Revoke the role Support from ed@example.org?" in asking.text
    confirmation = re.search(r"<form [^>]*data-confirm-revoke.*?</form>", asking.text, re.S)
    assert confirmation and 'name="confirmed" value="yes"' in confirmation.group(0)
    assert 'name="email" value="ed@example.org"' in confirmation.group(0)

    confirmed = client.post("/console/staff/revocations", data={**form, "confirmed": "yes"})
    assert confirmed.status_code == 303 and directory.changes == [("ed@example.org", "support", False)]


def test_an_admin_revoking_their_own_admin_role_is_told_they_lose_the_staff_pages_in_french():
    client = staff_client(AdminIdentity(), staff=RecordedChanges())
    form = {"csrf_token": csrf_token(client, "/console/staff"), "email": "admin@example.org", "role": "admin"}
    asking = client.post("/console/staff/revocations", data=form, headers={"Accept-Language": "fr"})
    assert asking.status_code == 200
    assert "Retirer le rôle Administrateur à admin@example.org ?" in asking.text
    assert "C’est votre propre compte" in asking.text


def test_no_role_is_chosen_for_the_admin_and_granting_without_one_asks_for_it():
    directory = RecordedChanges()
    client = staff_client(AdminIdentity(), staff=directory)
    page = client.get("/console/staff")
    select = re.search(r'<select id="role".*?</select>', page.text, re.S)
    assert select and " selected" not in select.group(0).replace('value="" selected', "")
    assert re.search(r'<option value="" selected[^>]*>Choose a role</option>', select.group(0))
    form = {"csrf_token": csrf_token(client, "/console/staff"), "email": "ed@example.org", "role": ""}
    refused = client.post("/console/staff/grants", data=form, headers={"Accept-Language": "fr"})
    assert refused.status_code == 400 and directory.changes == []
    errors = re.search(r'<ul class="errors" id="role-errors">(.*?)</ul>', refused.text, re.S)
    assert errors and "Choisissez un rôle." in errors.group(1)


class OnlyAdmin(FakeStaffDirectory):
    """Identity refusing to take the admin role from the only admin."""

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        raise ApiError(409, "last-admin", "This is the only admin")


def test_revoking_the_only_admins_role_is_refused_in_the_page_in_french():
    client = staff_client(AdminIdentity(), staff=OnlyAdmin())
    form = {"csrf_token": csrf_token(client, "/console/staff"), "email": "admin@example.org", "role": "admin"}
    refused = client.post(
        "/console/staff/revocations", data={**form, "confirmed": "yes"}, headers={"Accept-Language": "fr"}
    )
    assert refused.status_code == 409
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', refused.text, re.S)
    assert summary and "seul administrateur" in summary.group(1)
    assert "<table>" in refused.text  # the staff page still, not an error page
