"""Making verified accounts the way a person does: sign up, read the emailed code, verify."""

import uuid
from dataclasses import dataclass

import jwt
import pyotp

from accounts_testkit.http import call
from accounts_testkit.inbox import Inbox, code_of
from accounts_testkit.polling import wait_for

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
    earlier = {summary["id"] for summary in inbox.summaries(email)}
    status, registration = call("POST", f"{identity_url}/v1/accounts", {"email": email, "password": password})
    assert status == 202, f"signing up {email}: {status} {registration}"
    proof = {"email": email, "code": _new_code(inbox, email, earlier)}
    if "registration_id" in registration:
        proof["registration_id"] = registration["registration_id"]
    status, verified = call("POST", f"{identity_url}/v1/accounts/verification", proof)
    assert status == 200, f"verifying {email}: {status} {verified}"
    token = verified["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    # The address as identity normalised it (case, spaces), as its events and mails give it.
    return Account(account_id=claims["sub"], email=claims["email"], password=password, access_token=token)


def _new_code(inbox: Inbox, email: str, earlier: set[str]) -> str:
    """The code of a code email that is not one of the `earlier` messages: an address used before
    holds older codes and a welcome mail, and a mail of a previous test may still arrive after."""

    def arrived() -> str | None:
        new = (message for message in inbox.messages(email) if message["id"] not in earlier)
        return next(filter(None, map(code_of, new)), None)

    return wait_for(arrived, timeout=30, what=f"a new code email to {email}")


@dataclass(frozen=True)
class Authenticator:
    """A TOTP authenticator enrolled on an account: its secret (what an app scans) and recovery codes."""

    secret: str
    recovery_codes: list[str]


def staff_access_token(identity_url: str, email: str, password: str) -> str:
    """A token in which the verified account's staff roles count: enrols a TOTP authenticator (as an
    app would, with pyotp) and logs in with the second factor, here one of the recovery codes."""
    authenticator = enrolled_authenticator(identity_url, email, password)
    return _login(
        identity_url, {"email": email, "password": password, "totp": authenticator.recovery_codes[0]}
    )


def enrolled_authenticator(identity_url: str, email: str, password: str) -> Authenticator:
    """Enrols a TOTP authenticator on the verified account and confirms it with the app's current code
    (spent: that code does not log in again)."""
    auth = {"Authorization": f"Bearer {_login(identity_url, {'email': email, 'password': password})}"}
    status, enrolment = call("POST", f"{identity_url}/v1/accounts/me/totp", {"password": password}, auth)
    assert status == 201, f"enrolling {email}: {status} {enrolment}"
    code = {"code": pyotp.TOTP(enrolment["secret"]).now()}
    status, confirmed = call("POST", f"{identity_url}/v1/accounts/me/totp/verification", code, auth)
    assert status == 200, f"confirming {email}'s second factor: {status} {confirmed}"
    return Authenticator(enrolment["secret"], list(confirmed["recovery_codes"]))


def _login(identity_url: str, credentials: dict[str, str]) -> str:
    status, body = call("POST", f"{identity_url}/v1/sessions", credentials)
    assert status == 200, f"logging in {credentials['email']}: {status} {body}"
    return str(body["access_token"])
