"""Making verified accounts the way a person does: sign up, read the emailed code, verify."""

import uuid
from dataclasses import dataclass

import jwt

from accounts_testkit.http import call
from accounts_testkit.inbox import Inbox, code_in

PASSWORD = "Correct-Horse-9!"


@dataclass(frozen=True)
class Account:
    account_id: str
    email: str
    password: str
    access_token: str


def verified_account(
    identity_url: str, inbox: Inbox, email: str | None = None, password: str = PASSWORD
) -> Account:
    """A new verified account on the identity service at `identity_url`, whose emails reach `inbox`."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.org"
    status, registration = call("POST", f"{identity_url}/v1/accounts", {"email": email, "password": password})
    assert status == 202, f"signing up {email}: {status} {registration}"
    proof = {"email": email, "code": code_in(inbox.wait_for_messages(email)[0])}
    if "registration_id" in registration:
        proof["registration_id"] = registration["registration_id"]
    status, verified = call("POST", f"{identity_url}/v1/accounts/verification", proof)
    assert status == 200, f"verifying {email}: {status} {verified}"
    token = verified["access_token"]
    account_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    return Account(account_id=account_id, email=email, password=password, access_token=token)
