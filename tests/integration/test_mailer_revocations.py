"""The mailer's revocations and erasures against a real database and SMTP sink: it checks tokens on its
support endpoints, so it keeps identity's SessionRevoked like every service, and its worker forgets each
revoked session an hour after the token would have expired (docs/api.md), as the catalogue's and the
newsletter's do. The newsletter events of an account handled after its AccountDeleted (they come on other
topics) write nothing of it back, and an erasure handled late leaves the account that has the address
since alone."""

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from psycopg_pool import ConnectionPool

from accounts_common.events import new_event, validate_data
from accounts_common.housekeeping import delete_expired
from mailer.adapters import suppressions
from mailer.bootstrap import bootstrap
from mailer.entrypoints.cli import worker_pool
from mailer.migrations import MAILER_MIGRATIONS
from mailer.service_layer.handlers import Mailer
from mailer.settings import Settings
from tests.conftest import Infra, migrated_database
from tests.e2e.mail_helpers import code_issued, newsletter_delivery


@pytest.fixture(scope="module")
def mailer_pool(infra: Infra) -> Iterator[ConnectionPool]:
    with worker_pool(migrated_database(infra, "test_mailer_revocations", MAILER_MIGRATIONS), 1) as pool:
        yield pool


def revoke(pool: ConnectionPool, settings: Settings, expires_at: datetime) -> str:
    """A logout handled by the mailer's own handler; the session's id."""
    session_id = str(uuid4())
    account_id = str(uuid4())
    data = {
        "account_id": account_id,
        "session_id": session_id,
        "revoked_at": (expires_at - timedelta(minutes=30)).isoformat(),
        "expires_at": expires_at.isoformat(),
    }
    event = new_event("SessionRevoked", source="/identity", subject=account_id, data=data)
    handler = bootstrap(settings, pool).handlers()["SessionRevoked"]
    with pool.connection() as conn:
        handler(conn, event, validate_data(event.type, event.data))
    return session_id


def test_the_workers_housekeeping_forgets_a_revoked_session_an_hour_after_its_token_expired(mailer_pool):
    settings = Settings.from_env()
    now = datetime.now(UTC)
    long_expired = revoke(mailer_pool, settings, now - timedelta(hours=2))
    lately_expired = revoke(mailer_pool, settings, now - timedelta(minutes=10))
    with mailer_pool.connection() as conn:
        delete_expired(conn, settings.housekeeping())
        rows = conn.execute(
            "SELECT session_id FROM revoked_sessions WHERE session_id = ANY(%s)",
            ([long_expired, lately_expired],),
        ).fetchall()
    assert [row[0] for row in rows] == [lately_expired]


@pytest.fixture
def in_process_mailer(infra: Infra, mailer_pool: ConnectionPool) -> Iterator[Mailer]:
    """The mailer's handlers in this process, sending to the run's SMTP sink (not named `mailer`:
    tests/conftest.py groups the tests of that fixture, a worker process of its own, together, and this
    module's would be split in two)."""
    settings = dataclasses.replace(Settings.from_env(), smtp_host=infra.smtp_host, smtp_port=infra.smtp_port)
    mailer = bootstrap(settings, mailer_pool)
    yield mailer
    mailer.dispatcher.close()


def handle(mailer: Mailer, pool: ConnectionPool, event_type: str, data: dict[str, Any], subject: str) -> str:
    """Hand one event to the mailer's handler, as its worker does, and wait for the mail it started;
    the event's id."""
    event = new_event(event_type, source="/test", subject=subject, data=data)
    with pool.connection() as conn:
        pending = mailer.handlers()[event_type](conn, event, validate_data(event_type, data))
    mailer.dispatcher.finish_batch()
    if pending is not None:
        pending.result()
    return event.id


def subscription_of(pool: ConnectionPool, account: str) -> object:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT subscribed_at FROM newsletter_subscriptions WHERE account_id = %s", (account,)
        ).fetchone()
    return None if row is None else row[0]


def test_newsletter_events_handled_after_the_deletion_keep_nothing_of_the_erased_account(
    in_process_mailer, mailer_pool
):
    account, email = str(uuid.uuid4()), f"late-{uuid.uuid4().hex[:8]}@example.org"
    subscribed_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    subscribed = {"account_id": account, "email": email, "at": subscribed_at, "reason": "user"}
    handle(in_process_mailer, mailer_pool, "NewsletterSubscribed", subscribed, account)
    assert subscription_of(mailer_pool, account) is not None
    deleted = {"account_id": account, "deleted_at": datetime.now(UTC).isoformat()}
    handle(in_process_mailer, mailer_pool, "AccountDeleted", deleted, account)
    assert subscription_of(mailer_pool, account) is None

    # The subscription topic and the deliveries' are not the account events': their events come late.
    handle(in_process_mailer, mailer_pool, "NewsletterSubscribed", subscribed, account)
    assert subscription_of(mailer_pool, account) is None
    request = newsletter_delivery(email, subscribed_at=subscribed_at)
    late_issue = handle(in_process_mailer, mailer_pool, "NewsletterDeliveryRequested", request, account)
    assert subscription_of(mailer_pool, account) is None
    with mailer_pool.connection() as conn:
        kept = conn.execute(
            "SELECT status, recipient, account_id FROM deliveries WHERE event_id = %s", (late_issue,)
        ).fetchone()
    assert kept == ("skipped", None, None)


def test_an_erasure_handled_after_the_address_signed_up_again_leaves_the_new_account_alone(
    in_process_mailer, mailer_pool
):
    """The person deleted their account and signed up again at once; the new account's code mail came
    (identity.codes.v1) before the old account's AccountDeleted (identity.account-events.v1). Erasing
    the old account must not erase the new one's mails, their language, nor the suppression of its
    own bounce."""
    email = f"again-{uuid.uuid4().hex[:8]}@example.org"
    old, new = code_issued(email), {**code_issued(email), "locale": "fr"}
    old_mail = handle(in_process_mailer, mailer_pool, "CodeIssued", old, old["account_id"])
    new_mail = handle(in_process_mailer, mailer_pool, "CodeIssued", new, new["account_id"])
    with mailer_pool.connection() as conn:
        suppressions.suppress(conn, email, "5.1.1 unknown", "smtp", account_id=uuid.UUID(new["account_id"]))
    deleted = {"account_id": old["account_id"], "deleted_at": datetime.now(UTC).isoformat()}
    handle(in_process_mailer, mailer_pool, "AccountDeleted", deleted, old["account_id"])

    with mailer_pool.connection() as conn:
        rows = dict(
            conn.execute(
                """SELECT event_id::text, (status, recipient, account_id::text, locale) FROM deliveries
                   WHERE event_id = ANY(%s::uuid[])""",
                ([old_mail, new_mail],),
            ).fetchall()
        )
        assert suppressions.suppressed_among(conn, [email]) == {email}
    assert rows == {old_mail: ("sent", None, None, None), new_mail: ("sent", email, new["account_id"], "fr")}
    assert in_process_mailer.delivery_log.latest_locale(uuid.UUID(new["account_id"])) == "fr"
