"""Staff tokens for tests against running processes, made as a person gets one: a verified account, a
role granted by an admin through identity's API, TOTP enrolment, and a login with the second factor.
Each identity's first admin is made from its command line, as a deployment's is."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from accounts_common.codecrypt import cipher_from_env
from accounts_common.events.topics import CODES
from accounts_testkit.accounts import enrolled_authenticator, staff_access_token
from tests.support.hashing import CHEAP_HASHING_ENV
from tests.support.http import call
from tests.support.outbox import outbox_records
from tests.support.processes import ServiceProcess, free_port, run_once

STAFF_PASSWORD = "Correct-Horse-9!"


# An admin's token is renewed when this old: identity's tokens last 15 minutes (access_token_ttl_s).
ADMIN_TOKEN_RENEWAL_S = 600


@dataclass
class AdminGrants:
    """Roles granted through identity's API by one admin (a verified account with an enrolled
    authenticator, made admin from the command line once): a grant costs a request, not a command's
    start. Its token is renewed with a recovery code before it expires."""

    identity_url: str
    email: str
    password: str
    recovery_codes: list[str]  # spent one at each renewal
    _token: str = ""
    _since: float = field(default=-float("inf"))

    def grant(self, email: str, role: str) -> None:
        if time.monotonic() - self._since > ADMIN_TOKEN_RENEWAL_S:
            credentials = {"email": self.email, "password": self.password, "totp": self.recovery_codes.pop()}
            status, session = call("POST", f"{self.identity_url}/v1/sessions", credentials)
            assert status == 200, session
            self._token, self._since = session["access_token"], time.monotonic()
        auth = {"Authorization": f"Bearer {self._token}"}
        status, body = call(
            "POST", f"{self.identity_url}/v1/staff/grants", {"email": email, "role": role}, auth
        )
        assert status == 200, body


def first_admin(
    identity_url: str, identity_env: dict[str, str], verify: Callable[[str, str], object]
) -> AdminGrants:
    """A new admin of the identity at `identity_url`, made as the first one is: a verified account (see
    `staff_token` for `verify`) with an enrolled authenticator, made admin from identity's command line."""
    email = f"admin-{uuid.uuid4().hex[:12]}@example.org"
    verify(email, STAFF_PASSWORD)
    authenticator = enrolled_authenticator(identity_url, email, STAFF_PASSWORD)
    run_once(["identity", "staff", "grant", email, "admin"], identity_env)
    return AdminGrants(identity_url, email, STAFF_PASSWORD, authenticator.recovery_codes)


def staff_token(admin: AdminGrants, role: str, verify: Callable[[str, str], object]) -> str:
    """The access token of a new staff account of `admin`'s identity, granted `role` by `admin`.
    `verify(email, password)` registers and verifies the account (through the mail, or the outbox for
    an identity without a mailer)."""
    email = f"staff-{uuid.uuid4().hex[:12]}@example.org"
    verify(email, STAFF_PASSWORD)
    admin.grant(email, role)
    return staff_access_token(admin.identity_url, email, STAFF_PASSWORD)


def verify_through_outbox(identity_url: str, identity_database_url: str) -> Callable[[str, str], None]:
    """A `verify` for an identity without a mailer: the code is read back from identity's outbox."""

    def verify(email: str, password: str) -> None:
        status, body = call("POST", f"{identity_url}/v1/accounts", {"email": email, "password": password})
        assert status == 202, body
        code = _mailed_code(identity_database_url, email)
        submission = {"email": email, "registration_id": body["registration_id"], "code": code}
        status, body = call("POST", f"{identity_url}/v1/accounts/verification", submission)
        assert status == 200, body

    return verify


def _mailed_code(database_url: str, email: str) -> str:
    for record in outbox_records(database_url, newest_first=True, topic=CODES, email=email):
        return cipher_from_env().decrypt(record["data"]["code_encrypted"])
    raise AssertionError(f"no code was issued to {email}")


@dataclass
class PrivateIdentity:
    """identity's web process alone (no relay, so no mail: codes are read from its outbox), for a
    service under test that needs tokens and staff."""

    url: str
    env: dict[str, str]
    process: ServiceProcess
    _admin: AdminGrants | None = None  # made at the first staff member

    @classmethod
    def start(cls, kafka: str, database_url: str, logs: Path) -> "PrivateIdentity":
        """Start the web process on the (migrated) database and wait until it is ready."""
        port = free_port()
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "IDENTITY_DATABASE_URL": database_url, **CHEAP_HASHING_ENV}
        argv = ["identity", "web", "--port", str(port), "--workers", "1"]
        process = ServiceProcess("identity-web-private", argv, env, logs).start()
        process.wait_http(f"http://127.0.0.1:{port}/readyz")
        return cls(f"http://127.0.0.1:{port}", env, process)

    def staff_header(self, role: str) -> dict[str, str]:
        """The Authorization header of a new staff member with `role`."""
        verify = verify_through_outbox(self.url, self.env["IDENTITY_DATABASE_URL"])
        if self._admin is None:
            self._admin = first_admin(self.url, self.env, verify)
        return {"Authorization": f"Bearer {staff_token(self._admin, role, verify)}"}
