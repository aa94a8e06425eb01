"""Subscribing, unsubscribing and one-click links, in-process against PostgreSQL and a served identity."""

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import jwt
from psycopg_pool import ConnectionPool

from accounts_common.events import new_event, validate_data
from identity.adapters.tokens import key_id
from newsletter.domain.unsubscribe import unsubscribe_token
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.results import DeliveryResults
from tests.integration.conftest import (
    IDENTITY_SIGNING_KEY,
    PASSWORD,
    account_of,
    bearer,
    feed,
    reset_password,
    sign_up,
)
from tests.support.outbox import outbox_records

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def subscription_events(pool: ConnectionPool, account_id: str) -> list[tuple[str, str]]:
    """(type, reason) of the newsletter's outbox events about the account, oldest first."""
    return [(event["type"], event["data"]["reason"]) for event in outbox_records(pool, key=account_id)]


def verified_account(served_identity, identity_pool, email):  # type: ignore[no-untyped-def]
    """(account id, access token) of a new verified account."""
    token = sign_up(served_identity.app.test_client(), identity_pool, email)
    return account_of(token), token


def unsubscribe_link(newsletter, account_id: str) -> str:  # type: ignore[no-untyped-def]
    token = unsubscribe_token(newsletter.settings.unsubscribe_key, uuid.UUID(account_id))
    return f"/v1/unsubscribe?token={quote(token)}"


def test_subscribe_status_and_unsubscribe(
    newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json == {
        "subscribed": False,
        "since": None,
        "reason": None,
    }
    first = newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    assert first.status_code == 201 and first.json["subscribed"] is True
    again = newsletter_client.post("/v1/subscriptions", json={}, headers=bearer(token))
    assert again.status_code == 200 and again.json == first.json
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json == first.json

    assert newsletter_client.delete("/v1/subscriptions/me", headers=bearer(token)).status_code == 204
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json == {
        "subscribed": False,
        "since": None,
        "reason": "user",
    }
    assert newsletter_client.delete("/v1/subscriptions/me", headers=bearer(token)).status_code == 204
    assert subscription_events(newsletter_pool, account_id) == [
        ("NewsletterSubscribed", "user"),
        ("NewsletterUnsubscribed", "user"),
    ]


def test_without_a_valid_token_nobody_subscribes(newsletter_client):
    assert newsletter_client.post("/v1/subscriptions").status_code == 401
    response = newsletter_client.post("/v1/subscriptions", headers=bearer("not.a.token"))
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def identity_token(account_id: str, **claims: object) -> str:
    """A token identity's key signs for a new account whose events no service has read."""
    now = int(time.time())
    return jwt.encode(
        {"iss": "identity", "sub": account_id, "email": "new@example.org", "iat": now, "exp": now + 600}
        | {"jti": uuid.uuid4().hex, **claims},
        IDENTITY_SIGNING_KEY,
        algorithm="EdDSA",
        headers={"kid": key_id(IDENTITY_SIGNING_KEY)},
    )


def test_an_unverified_account_cannot_subscribe(newsletter_client):
    token = identity_token(str(uuid.uuid4()), email_verified=False)
    response = newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    assert response.status_code == 403 and response.json["type"].endswith("account-not-verified")


def test_one_subscribing_before_their_account_events_arrive_is_written_to_in_the_tokens_language(
    newsletter_client, newsletter_pool
):
    account_id = str(uuid.uuid4())
    token = identity_token(account_id, email_verified=True, locale="fr")
    assert newsletter_client.post("/v1/subscriptions", headers=bearer(token)).status_code == 201
    with newsletter_pool.connection() as conn:
        known = conn.execute("SELECT locale FROM known_accounts WHERE account_id = %s", (account_id,))
        assert known.fetchone() == ("fr",)


def test_a_token_from_before_a_password_reset_is_refused(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, old_token = verified_account(served_identity, identity_pool, unique_email)
    reset_password(served_identity.app.test_client(), identity_pool, unique_email)
    feed(newsletter_pool, identity_pool, account_id, "PasswordReset", account_event_handlers(newsletter))
    response = newsletter_client.post("/v1/subscriptions", headers=bearer(old_token))
    assert response.status_code == 403 and response.json["type"].endswith("token-revoked")
    assert subscription_events(newsletter_pool, account_id) == []


def test_a_deleted_account_is_unsubscribed_erased_and_cannot_come_back(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    assert newsletter_client.post("/v1/subscriptions", headers=bearer(token)).status_code == 201
    identity_client = served_identity.app.test_client()
    assert (
        identity_client.delete(
            "/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token)
        ).status_code
        == 204
    )
    feed(newsletter_pool, identity_pool, account_id, "AccountDeleted", account_event_handlers(newsletter))

    assert subscription_events(newsletter_pool, account_id) == [
        ("NewsletterSubscribed", "user"),
        ("NewsletterUnsubscribed", "account_deleted"),
    ]
    with newsletter_pool.connection() as conn:
        for table in ("subscribers", "known_accounts"):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE account_id = %s", (account_id,)
            ).fetchone() == (0,)
    assert newsletter_client.post("/v1/subscriptions", headers=bearer(token)).status_code == 403


def test_a_deleted_account_that_had_unsubscribed_leaves_no_trace_of_why(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    assert newsletter_client.post("/v1/subscriptions", headers=bearer(token)).status_code == 201
    assert newsletter_client.delete("/v1/subscriptions/me", headers=bearer(token)).status_code == 204
    identity_client = served_identity.app.test_client()
    deleted = identity_client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(token))
    assert deleted.status_code == 204
    feed(newsletter_pool, identity_pool, account_id, "AccountDeleted", account_event_handlers(newsletter))

    with newsletter_pool.connection() as conn:
        assert conn.execute(
            "SELECT count(*) FROM subscription_endings WHERE account_id = %s", (account_id,)
        ).fetchone() == (0,)


def hard_bounce(newsletter, pool, account_id: str, email: str, sent_at: str) -> None:  # type: ignore[no-untyped-def]
    """The mailer's EmailFailed (hard, via dsn) of a mail to `email` sent at `sent_at`, handled."""
    data = {
        "delivery_id": str(uuid.uuid4()),
        "kind": "newsletter",
        "email": email,
        "account_id": account_id,
        "at": datetime.now(UTC).isoformat(),
        "class": "hard",
        "reason": "a delivery status notification says the address takes no mail (hard bounce)",
        "via": "dsn",
        "sent_at": sent_at,
    }
    event = new_event("EmailFailed", source="/mailer", subject=account_id, data=data)
    with pool.connection() as conn, conn.transaction():
        DeliveryResults(newsletter).failed(conn, event, validate_data("EmailFailed", data))


def test_a_late_bounce_of_a_mail_sent_before_subscribing_again_leaves_the_new_subscription_alone(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    first = newsletter_client.post("/v1/subscriptions", headers=bearer(token)).json
    mailed_during_the_first = first["since"]
    assert newsletter_client.delete("/v1/subscriptions/me", headers=bearer(token)).status_code == 204
    again = newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    assert again.status_code == 201
    assert datetime.fromisoformat(again.json["since"]) > datetime.fromisoformat(mailed_during_the_first)

    hard_bounce(newsletter, newsletter_pool, account_id, unique_email, mailed_during_the_first)

    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json == again.json
    assert subscription_events(newsletter_pool, account_id)[-1] == ("NewsletterSubscribed", "user")


def test_a_bounce_of_a_mail_sent_since_subscribing_again_ends_the_subscription(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    newsletter_client.delete("/v1/subscriptions/me", headers=bearer(token))
    again = newsletter_client.post("/v1/subscriptions", headers=bearer(token)).json

    hard_bounce(newsletter, newsletter_pool, account_id, unique_email, again["since"])

    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json == {
        "subscribed": False,
        "since": None,
        "reason": "bounce",
    }
    assert subscription_events(newsletter_pool, account_id)[-1] == ("NewsletterUnsubscribed", "bounce")


def test_checking_a_link_changes_nothing_and_one_click_unsubscribes(
    newsletter, newsletter_client, newsletter_pool, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    link = unsubscribe_link(newsletter, account_id)

    checked = newsletter_client.get(link)
    assert (checked.status_code, checked.json) == (200, {"status": "valid"})
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json["subscribed"] is True

    done = newsletter_client.post(link, data=ONE_CLICK)
    assert (done.status_code, done.json) == (200, {"status": "unsubscribed"})
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json["subscribed"] is False
    assert newsletter_client.post(link, data=ONE_CLICK).status_code == 200
    assert subscription_events(newsletter_pool, account_id)[-1] == ("NewsletterUnsubscribed", "one_click")


def test_a_browser_on_an_old_newsletter_link_is_sent_to_the_portals_page(newsletter, newsletter_client):
    link = unsubscribe_link(newsletter, str(uuid.uuid4()))
    page = newsletter_client.get(f"{link}&lang=fr", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 303
    assert page.headers["Location"] == (
        f"{newsletter.settings.portal_url}/newsletter/unsubscribe?{link.split('?')[1]}&lang=fr"
    )


def test_forged_altered_or_respelled_links_are_refused_and_change_nothing(
    newsletter, newsletter_client, served_identity, identity_pool, unique_email
):
    account_id, token = verified_account(served_identity, identity_pool, unique_email)
    newsletter_client.post("/v1/subscriptions", headers=bearer(token))
    genuine = unsubscribe_token(newsletter.settings.unsubscribe_key, uuid.UUID(account_id))
    account_part, signature = genuine.split(".")
    other_key = unsubscribe_token(b"k" * 32, uuid.UUID(account_id))
    altered = f"{account_part}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    someone_else = f"{unsubscribe_token(b'x', uuid.uuid4()).split('.')[0]}.{signature}"
    padded = f"{account_part}==.{signature}="
    for token_text in (other_key, altered, someone_else, padded, account_part, "", "%%%", "a" * 5000):
        link = f"/v1/unsubscribe?token={quote(token_text)}"
        for response in (newsletter_client.get(link), newsletter_client.post(link, data=ONE_CLICK)):
            assert response.status_code == 400, token_text
            assert response.mimetype == "application/problem+json"
            assert response.json["type"].endswith("/invalid-unsubscribe-link")
    without_body = newsletter_client.post(f"/v1/unsubscribe?token={quote(genuine)}")
    assert without_body.status_code == 400 and without_body.json["type"].endswith("/one-click-expected")
    assert newsletter_client.get("/v1/subscriptions/me", headers=bearer(token)).json["subscribed"] is True
