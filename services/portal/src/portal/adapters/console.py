"""What the console asks of identity (accounts, staff, audit) and of the mailer (deliveries, dead
letters), always with the staff member's own token: each service checks the role and audits."""

from typing import Any

from portal.adapters.http import JsonApi

AUDIT_PER_PAGE = 100  # the console's audit list, a page


class StaffClient:
    """identity's support, staff and audit endpoints."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def account(self, token: str, email: str) -> dict[str, Any]:
        """{id, email, verified, created_at, locale, roles, mfa_enrolled}; ApiError 404 when none."""
        return self.api.call("GET", "/v1/support/accounts", token=token, query={"email": email})

    def resend_code(self, token: str, email: str) -> bool:
        """False when the account has no pending registration to send a code for."""
        body = {"email": email}
        return bool(self.api.call("POST", "/v1/support/accounts/code-resends", body, token=token)["pending"])

    def erase(self, token: str, email: str, reason: str) -> None:
        self.api.call(
            "POST", "/v1/support/accounts/erasures", {"email": email, "reason": reason}, token=token
        )

    def members(self, token: str) -> list[dict[str, Any]]:
        """[{account_id, email, roles, mfa_enrolled}]."""
        return self.api.call("GET", "/v1/staff", token=token)["staff"]

    def change_role(self, token: str, email: str, role: str, *, grant: bool) -> bool:
        """Grant or revoke; False when nothing had to change."""
        path = "/v1/staff/grants" if grant else "/v1/staff/revocations"
        return bool(self.api.call("POST", path, {"email": email, "role": role}, token=token)["changed"])

    def audit(self, token: str, filters: dict[str, str], page: int = 1) -> dict[str, Any]:
        """A page of the operator actions matching {actor, action, since, until, as_of}, newest first:
        {items, total, page, per_page, as_of}."""
        query = {**filters, "page": page, "per_page": AUDIT_PER_PAGE}
        return dict(self.api.call("GET", "/v1/audit", token=token, query=query))


class MailerClient:
    """The mailer's support endpoints."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def deliveries(self, token: str, email: str) -> list[dict[str, Any]]:
        return self.api.call("GET", "/v1/deliveries", token=token, query={"email": email})["items"]

    def dead_letters(self, token: str) -> tuple[list[dict[str, Any]], bool]:
        """The oldest dead letters, and whether more are left out of the list."""
        listed = self.api.call("GET", "/v1/dead-letters", token=token)
        return listed["items"], bool(listed.get("more"))

    def replay(self, token: str, letter: tuple[int, int] | None = None) -> int:
        """Replay one letter (partition, offset) or, with None, all of them; how many went."""
        body = {"partition": letter[0], "offset": letter[1]} if letter else {}
        return int(self.api.call("POST", "/v1/dead-letters/replays", body, token=token)["replayed"])
