"""The testkit's verified_account reads the code mailed for its own sign-up, not an older mail, and
gives the account's address as identity holds it.

Against a fake identity (its `call`) and an Inbox whose Mailpit is a list in memory, in which the
new code mail arrives a few listings after the sign-up, as the mailer's does."""

from typing import Any

import jwt
import pytest

from accounts_testkit import accounts
from accounts_testkit.inbox import Inbox

EMAIL = "reused@example.org"
OLD_CODE, NEW_CODE = "111111", "222222"


class SlowInbox(Inbox):
    """Mailpit as a list, newest first; a mail sent arrives on the third listing after it."""

    def __init__(self) -> None:
        super().__init__("http://mailpit.invalid")
        self.held: list[dict[str, Any]] = []
        self.listed: list[dict[str, Any]] = []
        self.listings_to_arrival = 0

    def deliver(self, subject: str, text: str) -> None:
        self.listed.insert(0, self._mail(subject, text))

    def send(self, subject: str, text: str) -> None:
        self.held.append(self._mail(subject, text))
        self.listings_to_arrival = 3

    def summaries(self, to: str | None = None) -> list[dict[str, Any]]:
        self.listings_to_arrival -= 1
        if self.held and self.listings_to_arrival <= 0:
            self.listed.insert(0, self.held.pop())
        return [{key: m[key] for key in ("id", "to", "subject", "received_at")} for m in self.listed]

    def _read_whole(self, summary: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in self.listed if m["id"] == summary["id"])

    def _mail(self, subject: str, text: str) -> dict[str, Any]:
        number = len(self.listed) + len(self.held)
        return {"id": f"m{number}", "to": [EMAIL], "subject": subject, "received_at": "x", "text": text}


@pytest.fixture
def inbox(monkeypatch) -> SlowInbox:
    inbox = SlowInbox()

    def identity(method: str, url: str, body: Any = None, headers: Any = None) -> tuple[int, Any]:
        if url.endswith("/v1/accounts"):
            inbox.send("Create an account: your verification code", f"Your verification code: {NEW_CODE}")
            return 202, {"status": "verification_pending", "registration_id": "r2"}
        if body["code"] != NEW_CODE:
            return 400, {"type": "urn:problem:invalid-code"}
        return 200, {"access_token": _token(body["email"].strip().lower())}  # identity normalises it

    monkeypatch.setattr(accounts, "call", identity)
    return inbox


def _token(email: str) -> str:
    return jwt.encode({"sub": "a2", "email": email}, "k" * 32, algorithm="HS256")


def test_an_address_signed_up_before_gets_the_new_code_not_its_old_one(inbox):
    inbox.deliver("Create an account: your verification code", f"Your verification code: {OLD_CODE}")
    account = accounts.verified_account("http://identity.invalid", inbox, email=EMAIL)
    assert account.account_id == "a2"


def test_an_address_whose_last_mail_is_a_welcome_gets_the_new_code(inbox):
    inbox.deliver("Create an account: your verification code", f"Your verification code: {OLD_CODE}")
    inbox.deliver("Welcome", "You have successfully created your account")
    account = accounts.verified_account("http://identity.invalid", inbox, email=EMAIL)
    assert account.account_id == "a2"


def test_an_address_given_in_another_case_is_the_account_s_as_identity_holds_it(inbox):
    account = accounts.verified_account("http://identity.invalid", inbox, email=" Reused@Example.ORG")
    assert account.email == EMAIL  # what its events, /v1/accounts/me and the mails say
