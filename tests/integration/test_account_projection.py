"""The shared account projection in a service's database: a request made in an account's name and
identity's AccountDeleted at the same moment (whichever comes first, the erased account does not come
back), and events handled again out of their order."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from accounts_common.account_projection import (
    ACCOUNT_PROJECTION_HANDLERS,
    known_account_email,
    record_account_deleted,
    remember_verified_account,
)
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.service_layer.accounts import account_event_handlers
from tests.conftest import database_fixtures
from tests.integration.conftest import NEWSLETTER_MIGRATIONS
from tests.support.locks import first_then_second

# Any service database with the shared projection's tables will do.
projection_db, projection_pool = database_fixtures("projection", NEWSLETTER_MIGRATIONS)


@pytest.mark.parametrize("deletion_first", [True, False], ids=["deletion-first", "request-first"])
def test_a_deletion_and_a_request_in_its_name_at_once_leave_the_account_erased(
    projection_pool: ConnectionPool, deletion_first: bool
) -> None:
    account_id = uuid4()
    now = datetime.now(UTC)

    def delete(conn: psycopg.Connection) -> None:
        record_account_deleted(conn, None, {"account_id": account_id, "deleted_at": now})  # type: ignore[arg-type]

    def remember(conn: psycopg.Connection) -> None:
        remember_verified_account(conn, account_id, f"{account_id.hex[:12]}@example.org", now)

    if deletion_first:
        first_then_second(projection_pool, delete, remember)
    else:
        first_then_second(projection_pool, remember, delete)
    with projection_pool.connection() as conn:
        assert known_account_email(conn, account_id) is None


def test_a_subscription_made_while_the_account_is_deleted_ends_with_it(newsletter: Newsletter) -> None:
    """The newsletter unsubscribes a deleted account before erasing it: a subscription committed while
    the handler runs must still be seen by it."""
    account_id = uuid4()
    now = datetime.now(UTC)

    def subscribe(conn: psycopg.Connection) -> None:  # what subscriptions.subscribe does in its transaction
        remember_verified_account(conn, account_id, f"{account_id.hex[:12]}@example.org", now)
        repository.add_subscriber(conn, account_id)

    def delete(conn: psycopg.Connection) -> None:
        deleted = account_event_handlers(newsletter)["AccountDeleted"]
        deleted(conn, None, {"account_id": account_id, "deleted_at": now})  # type: ignore[arg-type]

    first_then_second(newsletter.pool, subscribe, delete)
    with newsletter.pool.connection() as conn:
        assert repository.subscribed_since(conn, account_id) is None
        assert known_account_email(conn, account_id) is None


def test_an_older_event_handled_again_does_not_bring_an_old_language_back(
    projection_pool: ConnectionPool,
) -> None:
    """A dead-lettered AccountVerified replayed after the person chose another language, or an older
    AccountLocaleChanged after a newer one: the language chosen last stays."""
    account_id, email = uuid4(), "languages@example.org"
    verified_at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    verified = {"account_id": account_id, "email": email, "verified_at": verified_at, "locale": "fr"}

    def changed(locale: str, day: int) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "email": email,
            "locale": locale,
            "changed_at": verified_at.replace(day=day),
        }

    events = [
        ("AccountVerified", verified),
        ("AccountLocaleChanged", changed("en", 3)),
        ("AccountVerified", verified),  # replayed
        ("AccountLocaleChanged", changed("fr", 2)),  # replayed, older than the last choice
    ]
    languages = []
    for event_type, data in events:
        with projection_pool.connection() as conn:
            ACCOUNT_PROJECTION_HANDLERS[event_type](conn, None, data)  # type: ignore[arg-type]
            row = conn.execute(
                "SELECT locale FROM known_accounts WHERE account_id = %s", (account_id,)
            ).fetchone()
            languages.append(row[0])
    assert languages == ["fr", "en", "en", "en"]


def test_a_tokens_language_stands_until_an_event_says_one(projection_pool: ConnectionPool) -> None:
    """A subscription or a download before AccountVerified arrives records the token's language; the
    event's replaces it (the token may predate a choice whose event is on its way), and a later token
    does not replace a language an event gave."""
    account_id, email, now = uuid4(), "token-language@example.org", datetime.now(UTC)
    verified = {"account_id": account_id, "email": email, "verified_at": now, "locale": "en"}

    def language_after(step: Callable[[psycopg.Connection], None]) -> str | None:
        with projection_pool.connection() as conn:
            step(conn)
            row = conn.execute("SELECT locale FROM known_accounts WHERE account_id = %s", (account_id,))
            (locale,) = row.fetchone() or (None,)
            return locale

    assert language_after(lambda conn: remember_verified_account(conn, account_id, email, now, "fr")) == "fr"
    assert language_after(lambda conn: remember_verified_account(conn, account_id, email, now, "en")) == "fr"
    event = ACCOUNT_PROJECTION_HANDLERS["AccountVerified"]
    assert language_after(lambda conn: event(conn, None, verified)) == "en"  # type: ignore[arg-type]
    assert language_after(lambda conn: remember_verified_account(conn, account_id, email, now, "fr")) == "en"
