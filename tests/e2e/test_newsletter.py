"""The newsletter through running processes: identity, the newsletter, the mailer and the SMTP sink."""

import urllib.request
import uuid

import jwt
import psycopg

from accounts_common.events.topics import NEWSLETTER_DELIVERIES, SUBSCRIPTION_EVENTS
from tests.e2e.conftest import E2E_PASSWORD, verified_account
from tests.e2e.mail_helpers import headers_of
from tests.support.http import call
from tests.support.kafka import TopicReader
from tests.support.newsletter import deliveries_of, send_issue
from tests.support.polling import wait_for


def publish(newsletter, subject: str, french: str = "") -> str:  # type: ignore[no-untyped-def]
    """Send an issue now, `subject` in English (and in French unless another is given)."""
    draft = {
        "subject": {"en": subject, "fr": french or subject},
        "body": {"en": f"{subject}.", "fr": f"{french or subject}."},
    }
    return str(send_issue(newsletter.url, newsletter.editor, draft)["id"])


def mail_titled(inbox, email: str, subject: str):  # type: ignore[no-untyped-def]
    """The email to `email` with that subject, once it arrived."""
    return wait_for(
        lambda: next((m for m in inbox.messages(email) if m["subject"] == subject), None),
        timeout=30,
        what=f"{subject!r} to {email}",
    )


def one_click(url: str) -> int:
    """What a mail client does with List-Unsubscribe-Post: POST List-Unsubscribe=One-Click to the link."""
    request = urllib.request.Request(
        url,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_subscribe_receive_unsubscribe_in_one_click_and_receive_no_more(stack, newsletter, infra):
    reader_email = f"reader-{uuid.uuid4().hex[:10]}@example.org"
    control_email = f"control-{uuid.uuid4().hex[:10]}@example.org"
    subscription_events = TopicReader(infra.kafka, stack.topic(SUBSCRIPTION_EVENTS))
    deliveries = TopicReader(infra.kafka, stack.topic(NEWSLETTER_DELIVERIES))
    try:
        token = verified_account(stack.identity_url, infra.inbox, reader_email)
        newsletter.subscribe(token)
        newsletter.subscribe(verified_account(stack.identity_url, infra.inbox, control_email))

        first = f"First issue {uuid.uuid4().hex[:6]}"
        publish(newsletter, first)
        mail = mail_titled(infra.inbox, reader_email, first)
        assert f"{first}." in mail["text"]
        headers = headers_of(mail)
        assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        link = headers["list-unsubscribe"].split(",")[0].strip().strip("<>")
        assert link.startswith(f"{newsletter.portal_url}/newsletter/unsubscribe?token=")

        assert one_click(link) == 200
        status, body = call(
            "GET", f"{newsletter.url}/v1/subscriptions/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert (status, body["subscribed"]) == (200, False)
        subscription_events.read_until(
            lambda _: any(
                e["type"] == "NewsletterUnsubscribed" and e["data"]["email"] == reader_email
                for e in subscription_events.events()
            ),
            timeout=30,
            what="NewsletterUnsubscribed on Kafka",
        )
        [unsubscribed] = [
            e
            for e in subscription_events.events()
            if e["type"] == "NewsletterUnsubscribed" and e["data"]["email"] == reader_email
        ]
        assert unsubscribed["data"]["reason"] == "one_click"

        second = f"Second issue {uuid.uuid4().hex[:6]}"
        second_id = publish(newsletter, second)
        mail_titled(infra.inbox, control_email, second)
        deliveries.read_until(
            lambda records: deliveries_of(records, second_id), timeout=30, what="the second issue's requests"
        )
        assert [d["data"]["email"] for d in deliveries_of(deliveries.records, second_id)] == [control_email]
        assert [m["subject"] for m in infra.inbox.messages(reader_email)].count(second) == 0
    finally:
        subscription_events.close()
        deliveries.close()


def test_a_french_subscriber_gets_the_issue_framed_in_french_with_a_french_unsubscribe_page(
    stack, newsletter, infra
):
    email = f"lectrice-{uuid.uuid4().hex[:10]}@example.org"
    token = verified_account(stack.identity_url, infra.inbox, email, locale="fr")
    newsletter.subscribe(token)
    account_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    newsletter.wait_for_locale(account_id, "fr")
    subject = f"Numéro {uuid.uuid4().hex[:6]}"
    publish(newsletter, subject)
    mail = mail_titled(infra.inbox, email, subject)
    assert "Vous recevez ce message parce que vous êtes abonné" in mail["text"]
    link = headers_of(mail)["list-unsubscribe"].split(",")[0].strip().strip("<>")
    assert link.endswith("&lang=fr")
    with urllib.request.urlopen(link, timeout=10) as page:
        assert '<html lang="fr">' in page.read().decode()


def test_a_language_chosen_after_sign_up_reaches_the_newsletter_and_the_mails(stack, newsletter, infra):
    email = f"reader-{uuid.uuid4().hex[:10]}@example.org"
    token = verified_account(stack.identity_url, infra.inbox, email)
    newsletter.subscribe(token)
    account_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    me = {"Authorization": f"Bearer {token}"}
    status, body = call("PATCH", f"{stack.identity_url}/v1/accounts/me", {"locale": "fr"}, me)
    assert (status, body["locale"]) == (200, "fr")
    newsletter.wait_for_locale(account_id, "fr")  # AccountLocaleChanged, through Kafka
    subject = f"Numéro {uuid.uuid4().hex[:6]}"
    publish(newsletter, subject)
    issue = mail_titled(infra.inbox, email, subject)
    assert "Vous recevez ce message parce que vous êtes abonné" in issue["text"]
    assert call("POST", f"{stack.identity_url}/v1/password-resets", {"email": email})[0] == 202
    code_mail = mail_titled(infra.inbox, email, "Réinitialiser le mot de passe : votre code de vérification")
    assert "Ce code expirera dans" in code_mail["text"]


def test_deleting_the_account_unsubscribes_it_through_kafka(stack, newsletter, infra):
    email = f"leaver-{uuid.uuid4().hex[:10]}@example.org"
    subscription_events = TopicReader(infra.kafka, stack.topic(SUBSCRIPTION_EVENTS))
    try:
        token = verified_account(stack.identity_url, infra.inbox, email)
        newsletter.subscribe(token)
        status, _ = call(
            "DELETE",
            f"{stack.identity_url}/v1/accounts/me",
            {"password": E2E_PASSWORD},
            {"Authorization": f"Bearer {token}"},
        )
        assert status == 204

        def unsubscribed_for_deletion(_records) -> bool:  # type: ignore[no-untyped-def]
            return any(
                e["type"] == "NewsletterUnsubscribed"
                and e["data"]["email"] == email
                and e["data"]["reason"] == "account_deleted"
                for e in subscription_events.events()
            )

        subscription_events.read_until(
            unsubscribed_for_deletion, timeout=60, what="NewsletterUnsubscribed (account_deleted)"
        )
    finally:
        subscription_events.close()
    account_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    with psycopg.connect(newsletter.database_url) as conn:
        for table in ("subscribers", "known_accounts"):
            query = f"SELECT count(*) FROM {table} WHERE account_id = %s"
            assert conn.execute(query, (account_id,)).fetchone() == (0,), table
    status, body = call(
        "POST", f"{newsletter.url}/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 403, body
