"""Identity's HTTP API, as the portal uses it (DESIGN §3)."""

from typing import Any

import jwt

from portal.adapters.http import JsonApi


def token_claims(token: str) -> dict[str, Any]:
    """What a token identity has just handed the portal says of its account (email, roles), read
    without checking its signature: it came on the portal's own connection, not from a browser, and
    every API checks it again on each call."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


class IdentityClient:
    """Accounts, codes, sessions and password resets."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def register(self, email: str, password: str, locale: str) -> dict[str, Any]:
        """202 {status, email, code_expires_in, registration_id}."""
        return self.api.call("POST", "/v1/accounts", {"email": email, "password": password, "locale": locale})

    def verify(self, email: str, code: str, registration_id: str) -> str:
        """The access token of the newly verified account."""
        body = {"email": email, "code": code, "registration_id": registration_id}
        return self.api.call("POST", "/v1/accounts/verification", body)["access_token"]

    def resend_code(self, email: str, registration_id: str) -> None:
        self.api.call(
            "POST", "/v1/accounts/verification/resend", {"email": email, "registration_id": registration_id}
        )

    def log_in(self, email: str, password: str, totp: str = "") -> str:
        """An access token; `totp` is the second factor of an account that has one (401 mfa-required,
        whose `challenge` member `log_in_with_challenge` sends with the code instead of the password)."""
        credentials = {"email": email, "password": password} | ({"totp": totp} if totp else {})
        return self.api.call("POST", "/v1/sessions", credentials)["access_token"]

    def log_in_with_challenge(self, challenge: str, totp: str) -> str:
        """An access token for the second factor, with the `challenge` of the password's 401
        mfa-required (401 challenge-expired once it is over)."""
        return self.api.call("POST", "/v1/sessions", {"challenge": challenge, "totp": totp})["access_token"]

    def start_totp(self, token: str, password: str) -> dict[str, Any]:
        """{secret, otpauth_uri} of a new authenticator enrolment, to confirm with its first code; the
        account's password confirms it (403 wrong-password)."""
        return self.api.call("POST", "/v1/accounts/me/totp", {"password": password}, token=token)

    def confirm_totp(self, token: str, code: str) -> list[str]:
        """The recovery codes, once the app's code confirms the enrolment."""
        return self.api.call("POST", "/v1/accounts/me/totp/verification", {"code": code}, token=token)[
            "recovery_codes"
        ]

    def log_out(self, token: str) -> None:
        self.api.call("DELETE", "/v1/sessions/current", token=token)

    def me(self, token: str) -> dict[str, Any]:
        """{id, email, verified, created_at, locale}."""
        return self.api.call("GET", "/v1/accounts/me", token=token)

    def change_locale(self, token: str, locale: str) -> dict[str, Any]:
        """Identity writes the account's mails in `locale` from now on; the account as `me` gives it."""
        return self.api.call("PATCH", "/v1/accounts/me", {"locale": locale}, token=token)

    def delete_account(self, token: str, password: str) -> None:
        self.api.call("DELETE", "/v1/accounts/me", {"password": password}, token=token)

    def request_password_reset(self, email: str, return_to: str) -> None:
        """Mail a reset code; the "password updated" mail will lead back to `return_to` (a path)."""
        self.api.call("POST", "/v1/password-resets", {"email": email, "return_to": return_to})

    def verify_password_reset(self, email: str, code: str) -> str:
        """The single-use reset token."""
        body = {"email": email, "code": code}
        return self.api.call("POST", "/v1/password-resets/verification", body)["reset_token"]

    def complete_password_reset(self, reset_token: str, new_password: str) -> None:
        body = {"reset_token": reset_token, "new_password": new_password}
        self.api.call("POST", "/v1/password-resets/completion", body)
