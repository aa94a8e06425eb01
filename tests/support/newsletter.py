"""Newsletter subscribers in bulk, and reading its delivery requests off Kafka (tests and benchmarks)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from kafka.consumer.fetcher import ConsumerRecord

from accounts_common.events import new_event, validate_data
from accounts_common.roles import Role
from newsletter.domain.issues import delivery_id
from tests.support.http import call


def seed_subscribers(database_url: str, count: int) -> list[str]:
    """`count` verified, subscribed accounts written straight to the newsletter's tables, every third
    one French (the others registered without a language); their ids."""
    batch = uuid.uuid4().hex[:8]
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            """WITH accounts AS (
                   INSERT INTO known_accounts (account_id, email, verified_at, locale)
                   SELECT gen_random_uuid(), format('reader-%%s-%%s@example.org', %s::text, n), now(),
                          CASE WHEN n %% 3 = 0 THEN 'fr' END
                   FROM generate_series(1, %s) AS n
                   RETURNING account_id)
               INSERT INTO subscribers (account_id) SELECT account_id FROM accounts RETURNING account_id""",
            (batch, count),
        ).fetchall()
    return [str(account_id) for (account_id,) in rows]


def locales_of(database_url: str) -> dict[str, str | None]:
    """Every known account's language, by account id."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT account_id, locale FROM known_accounts").fetchall()
    return {str(account_id): locale for account_id, locale in rows}


def subscription_starts(database_url: str) -> dict[str, datetime]:
    """When each subscriber's subscription began, by account id."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT account_id, subscribed_at FROM subscribers").fetchall()
    return {str(account_id): started for account_id, started in rows}


def locale_of(database_url: str, account_id: str) -> str | None:
    """The language the newsletter holds for one account (None: none, or the account unknown)."""
    with psycopg.connect(database_url) as conn:
        query = "SELECT locale FROM known_accounts WHERE account_id = %s"
        row = conn.execute(query, (account_id,)).fetchone()
    return None if row is None else row[0]


def recipients_of(database_url: str, issue_id: str) -> set[str]:
    """The accounts an issue is for: those subscribed, up to its bound, when asked."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT s.account_id FROM subscribers s JOIN issues i ON s.id <= i.last_subscriber_id
               WHERE i.id = %s""",
            (issue_id,),
        ).fetchall()
    return {str(account_id) for (account_id,) in rows}


def deliveries_of(records: list[ConsumerRecord], issue_id: str) -> list[dict[str, Any]]:
    """The NewsletterDeliveryRequested events of one issue among the records read."""
    events = [json.loads(record.value) for record in records]
    return [
        e for e in events if e["type"] == "NewsletterDeliveryRequested" and e["data"]["issue_id"] == issue_id
    ]


def issue_in_both_languages(subject: str, body: str = "") -> dict[str, dict[str, str]]:
    """An issue's draft: the subject and Markdown body in English, and marked French versions."""
    body = body or f"{subject}."
    return {"subject": {"en": subject, "fr": f"{subject} (fr)"}, "body": {"en": body, "fr": f"{body} (fr)"}}


def send_issue(
    newsletter_url: str, editor: dict[str, str], draft: dict[str, Any], send_at: str | None = None
) -> dict[str, Any]:
    """Write the draft and send it (now, or at `send_at`) as a newsletter editor; the issue as sent."""
    status, issue = call("POST", f"{newsletter_url}/v1/issues", draft, editor)
    assert status == 201, issue
    sending = {"send_at": send_at} if send_at else {}
    status, issue = call("POST", f"{newsletter_url}/v1/issues/{issue['id']}/send", sending, editor)
    assert status == 202, issue
    return dict(issue)


def delivery_result(issue_id: str, account_id: str, email: str, **extra: str) -> dict[str, Any]:
    """The data of the mailer's EmailDelivered (or, with `extra`, EmailFailed) of an issue's mail."""
    return {
        "delivery_id": str(delivery_id(uuid.UUID(issue_id), uuid.UUID(account_id))),
        "kind": "newsletter",
        "email": email,
        "account_id": account_id,
        "at": datetime.now(UTC).isoformat(),
        **extra,
    }


def role_revoked(  # a StaffRoleRevoked as the account-event handlers get it
    account: uuid.UUID, actor: uuid.UUID, role: str = Role.NEWSLETTER_EDITOR, at: datetime | None = None
) -> tuple[Any, dict]:  # type: ignore[type-arg]
    data = {"account_id": str(account), "email": "gone@example.org", "role": role,
            "changed_at": (at or datetime.now(UTC)).isoformat(), "actor_account_id": str(actor)}  # fmt: skip
    event = new_event("StaffRoleRevoked", source="/identity", subject=str(account), data=data)
    return event, validate_data(event.type, data)  # the handler's data, loaded as the consumer loads it
