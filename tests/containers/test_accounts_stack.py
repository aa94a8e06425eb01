"""The test kit's pytest plugin, used as another team would: a running stack in containers.

Run by `make test-containers` (Podman here, Docker elsewhere); `make test` leaves this folder out.
"""

import jwt

from accounts_testkit.http import call


def test_a_verified_account_gets_its_token_and_its_events(
    accounts_verified_account, accounts_events, accounts_identity_url, accounts_inbox
):
    account = accounts_verified_account()

    status, me = call(
        "GET",
        f"{accounts_identity_url}/v1/accounts/me",
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    assert (status, me["email"]) == (200, account.email)
    # The welcome mail (AccountVerified) may be there too, or not yet.
    mails = accounts_inbox.messages(to=account.email)
    assert len([mail for mail in mails if "verification code" in mail["text"]]) == 1

    def registered_then_verified(_records):  # type: ignore[no-untyped-def]
        types = [
            event["type"] for event in accounts_events.events() if event["subject"] == account.account_id
        ]
        return types == ["UserRegistered", "AccountVerified"]

    accounts_events.read_until(
        registered_then_verified, timeout=30, what="UserRegistered and AccountVerified"
    )


def test_each_account_is_new(accounts_verified_account):
    first, second = accounts_verified_account(), accounts_verified_account()
    assert first.email != second.email and first.account_id != second.account_id


def test_a_staff_token_carries_its_role_and_the_second_factor(accounts_staff, accounts_identity_url):
    token = accounts_staff("support")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["support"] and claims["amr"] == ["pwd", "otp"]
    status, me = call(
        "GET", f"{accounts_identity_url}/v1/accounts/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200 and me["verified"] is True
