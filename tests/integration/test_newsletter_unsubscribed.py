"""An issue's `unsubscribed`, in-process against PostgreSQL and the real broker: the recipients who
unsubscribed by their own choice (user, one_click) before another issue went out to them, each once,
a figure that never goes down afterwards; and migration 009's fill of it for the issues before it."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from accounts_common.db import COMMON_MIGRATIONS, MigrationSet, migrate
from accounts_common.events import new_event, validate_data
from newsletter.adapters import repository
from newsletter.bootstrap import Newsletter
from newsletter.domain.issues import Figures, Issue
from newsletter.service_layer import results as results_module
from newsletter.service_layer.accounts import account_event_handlers
from newsletter.service_layer.results import DeliveryResults
from newsletter.service_layer.subscriptions import unsubscribe
from tests.conftest import fresh_database
from tests.integration.test_newsletter_issues import create, send
from tests.integration.test_newsletter_resubscription import subscribe_again
from tests.support.newsletter import delivery_result, seed_subscribers


def erase(newsletter: Newsletter, account_id: str) -> None:
    """identity's AccountDeleted, handled as the newsletter's consumer does."""
    data = {"account_id": account_id, "deleted_at": datetime.now(UTC).isoformat()}
    event = new_event("AccountDeleted", source="/identity", subject=account_id, data=data)
    with newsletter.pool.connection() as conn, conn.transaction():
        account_event_handlers(newsletter)["AccountDeleted"](conn, event, validate_data(event.type, data))


@dataclass(frozen=True)
class Issues:
    """Issues sent by an editor, and their `unsubscribed` as the editor reads it."""

    client: Any
    editor: dict[str, str]
    fan_out: Callable[[str], object]

    def send(self) -> str:
        """An issue sent to every current subscriber; its id."""
        issue_id = str(create(self.client, self.editor)["id"])
        send(self.client, self.editor, issue_id)
        self.fan_out(issue_id)
        return issue_id

    def unsubscribed(self, *issue_ids: str) -> list[int]:
        """The issues' `unsubscribed`, as the issue's page gives it, checked against the list's."""
        client, editor = self.client, self.editor
        figures = [client.get(f"/v1/issues/{each}", headers=editor).json["figures"] for each in issue_ids]
        listed = {
            item["id"]: item["figures"] for item in client.get("/v1/issues", headers=editor).json["items"]
        }
        assert [listed[each] for each in issue_ids] == figures
        return [each["unsubscribed"] for each in figures]


@pytest.fixture
def issues(newsletter_client, newsletter_editor, fan_out) -> Issues:  # type: ignore[no-untyped-def]  # noqa: F811
    return Issues(newsletter_client, newsletter_editor, fan_out)


def test_a_recipient_who_leaves_after_an_issue_counts_once_for_it(newsletter, newsletter_db, issues):
    leaver, other = seed_subscribers(newsletter_db, 2)
    issue = issues.send()
    assert issues.unsubscribed(issue) == [0]
    unsubscribe(newsletter, uuid.UUID(leaver), "one_click")
    assert issues.unsubscribed(issue) == [1]
    subscribe_again(newsletter, leaver)
    unsubscribe(newsletter, uuid.UUID(leaver), "user")  # no issue since: the same departure's issue
    unsubscribe(newsletter, uuid.UUID(other), "user")
    assert issues.unsubscribed(issue) == [2]


def test_coming_back_then_bouncing_or_being_erased_never_lowers_the_figure(newsletter, newsletter_db, issues):
    """The count read the account's one ending: replaced by a bounce, removed by an erasure, it took
    the earlier departure out of the issue's figure."""
    bounced, erased = seed_subscribers(newsletter_db, 2)
    issue = issues.send()
    for leaver in (bounced, erased):
        unsubscribe(newsletter, uuid.UUID(leaver), "user")
        subscribe_again(newsletter, leaver)
    assert issues.unsubscribed(issue) == [2]
    unsubscribe(newsletter, uuid.UUID(bounced), "bounce")
    erase(newsletter, erased)
    assert issues.unsubscribed(issue) == [2]
    with psycopg.connect(newsletter_db) as conn:  # the figure stays; who left is erased with the rest
        traces = conn.execute(
            "SELECT account_id::text FROM issue_unsubscriptions WHERE issue_id = %s", (issue,)
        )
        assert [account for (account,) in traces] == [bounced]


def test_leaving_counts_for_the_latest_issue_of_the_subscription_not_for_older_ones(
    newsletter, newsletter_db, issues
):
    """One who stayed through two issues left after the second; one who left after the first came back
    and left again after the second; one whose address bounced came back and left, with no issue of the
    new subscription: the issue of the old one is not what they left after."""
    stayer, returner, bounced = seed_subscribers(newsletter_db, 3)
    first = issues.send()
    unsubscribe(newsletter, uuid.UUID(returner), "one_click")
    subscribe_again(newsletter, returner)
    second = issues.send()
    unsubscribe(newsletter, uuid.UUID(bounced), "bounce")
    subscribe_again(newsletter, bounced)
    for leaver in (stayer, returner, bounced):
        unsubscribe(newsletter, uuid.UUID(leaver), "user")
    assert issues.unsubscribed(first, second) == [1, 2]


def test_an_unsubscription_not_by_choice_does_not_count(newsletter, newsletter_db, issues):
    bounced, erased = seed_subscribers(newsletter_db, 2)
    issue = issues.send()
    unsubscribe(newsletter, uuid.UUID(bounced), "bounce")
    erase(newsletter, erased)
    assert issues.unsubscribed(issue) == [0]


def test_an_erased_recipient_stays_in_the_figures_but_not_by_its_account(newsletter, newsletter_db, issues):
    """Which issues went to an erased account, and that they bounced, is no longer kept under its id
    (as the mailer's delivery log and the catalogue's download counts keep none): the counts stay."""
    erased, other = seed_subscribers(newsletter_db, 2)
    issue = issues.send()
    with psycopg.connect(newsletter_db) as conn:
        [email] = conn.execute("SELECT email FROM known_accounts WHERE account_id = %s", (erased,)).fetchone()
    data = delivery_result(
        issue, erased, email, **{"class": "hard", "reason": "5.1.1 unknown", "via": "smtp"}
    )
    event = new_event("EmailFailed", source="/mailer", subject=erased, data=data)
    with newsletter.pool.connection() as conn, conn.transaction():
        DeliveryResults(newsletter).failed(conn, event, validate_data("EmailFailed", data))
    figures = issues.client.get(f"/v1/issues/{issue}", headers=issues.editor).json["figures"]
    erase(newsletter, erased)
    assert issues.client.get(f"/v1/issues/{issue}", headers=issues.editor).json["figures"] == figures
    assert figures["bounced"] == 1
    with psycopg.connect(newsletter_db) as conn:
        kept = conn.execute(  # the issue went to every subscriber of the suite's database; these two:
            """SELECT account_id::text, outcome FROM issue_recipients
               WHERE issue_id = %s AND (account_id IS NULL OR account_id = ANY(%s::uuid[]))
               ORDER BY outcome""",
            (issue, [erased, other]),
        ).fetchall()
    assert kept == [(None, "bounced"), (other, None)]


def waiting_or_done(database_url: str, thread: threading.Thread) -> None:
    """Until `thread` has finished or a session of the database waits for a lock."""
    deadline = time.monotonic() + 30
    with psycopg.connect(database_url, autocommit=True) as conn:
        while thread.is_alive():
            waiting = conn.execute(
                """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE NOT l.granted AND a.datname = current_database()"""
            ).fetchone()
            if waiting != (0,):
                return
            assert time.monotonic() < deadline, "the unsubscription neither ended nor waited"
            time.sleep(0.01)


def test_a_hard_bounce_and_the_persons_own_unsubscription_at_once_both_go_through(
    newsletter, newsletter_db, issues, monkeypatch
):
    """The bounce's handler ends the subscription and counts the outcome on the issue; the person's
    unsubscription ends it and counts on the issue. Taken in opposite orders the two locks deadlocked,
    and PostgreSQL aborted one (the person's: a 500). The person leaves just as the handler comes to
    end the subscription."""
    [reader] = seed_subscribers(newsletter_db, 1)
    issue = issues.send()
    with psycopg.connect(newsletter_db) as conn:
        [email] = conn.execute("SELECT email FROM known_accounts WHERE account_id = %s", (reader,)).fetchone()
    errors: list[Exception] = []

    def leave() -> None:
        try:
            unsubscribe(newsletter, uuid.UUID(reader), "one_click")
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    leaving = threading.Thread(target=leave)
    bounce_ends = results_module.end_for_bounce

    def meanwhile_the_person_leaves(*args):  # type: ignore[no-untyped-def]
        leaving.start()
        waiting_or_done(newsletter_db, leaving)
        return bounce_ends(*args)

    monkeypatch.setattr(results_module, "end_for_bounce", meanwhile_the_person_leaves)
    data = delivery_result(issue, reader, email, **{"class": "hard", "reason": "5.1.1 unknown", "via": "dsn"})
    event = new_event("EmailFailed", source="/mailer", subject=reader, data=data)
    try:
        with newsletter.pool.connection() as conn, conn.transaction():
            DeliveryResults(newsletter).failed(conn, event, validate_data("EmailFailed", data))
    finally:
        leaving.join()
    assert errors == []
    figures = issues.client.get(f"/v1/issues/{issue}", headers=issues.editor).json["figures"]
    assert (figures["bounced"], figures["unsubscribed"]) == (1, 1)


def test_an_account_erased_while_its_batch_goes_out_is_neither_kept_among_the_recipients_nor_mailed(
    newsletter, newsletter_db, issues, monkeypatch
):
    """The fan-out had read a batch of subscribers when the account's deletion was handled: the batch,
    recorded after it, kept the erased account's id among the issue's recipients for good (its deletion
    had nulled none yet), and requested its mail."""
    erased, kept = seed_subscribers(newsletter_db, 2)
    read = repository.next_recipients

    def erased_meanwhile(conn, issue, after, limit):  # type: ignore[no-untyped-def]
        batch = read(conn, issue, after, limit)
        if any(str(recipient.account_id) == erased for recipient in batch):
            erase(newsletter, erased)
        return batch

    monkeypatch.setattr(repository, "next_recipients", erased_meanwhile)
    issue = str(create(issues.client, issues.editor)["id"])
    send(issues.client, issues.editor, issue)
    requested = {delivery["subject"] for delivery in issues.fan_out(issue)}
    assert kept in requested and erased not in requested
    with psycopg.connect(newsletter_db) as conn:
        recorded = conn.execute(
            """SELECT account_id::text FROM issue_recipients
               WHERE issue_id = %s AND account_id = ANY(%s::uuid[])""",
            (issue, [erased, kept]),
        ).fetchall()
    assert recorded == [(kept,)]


@dataclass(frozen=True)
class Before(MigrationSet):
    """The newsletter's migrations before `version`."""

    version: int = 0

    def scripts(self):  # type: ignore[no-untyped-def]
        return [script for script in super().scripts() if script[0] < self.version]


FILL = 9  # 009_issue_unsubscriptions


def as_of_then(issue_id: uuid.UUID) -> Issue:
    """The issue as `repository.figures` reads it (its id alone): today's `find_issue` reads columns
    that later migrations add."""
    return SimpleNamespace(id=issue_id)  # type: ignore[return-value]


def test_the_migration_fills_the_figure_of_the_issues_sent_before_it(infra):  # type: ignore[no-untyped-def]
    url = fresh_database(infra, "newsletter_fill")
    migrate(url, COMMON_MIGRATIONS, Before("newsletter", "newsletter", version=FILL))
    now = datetime.now(UTC)
    first, second, draft = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Who had which issue, and their (one, latest) ending: reason and how long ago.
    accounts = {
        "after_second": ((first, second), "one_click", timedelta(days=1)),
        "after_first": ((first,), "user", timedelta(days=2, hours=12)),
        # Left after the first, came back before the second (the ending is kept while subscribed).
        "back_for_second": ((first, second), "user", timedelta(days=2, hours=12)),
        "bounced": ((first, second), "bounce", timedelta(days=1)),
        "no_issue": ((), "user", timedelta(days=1)),
    }
    ids = {name: uuid.uuid4() for name in accounts}
    with psycopg.connect(url) as conn:
        for issue, started in ((first, now - timedelta(days=3)), (second, now - timedelta(days=2))):
            conn.execute(
                """INSERT INTO issues (id, status, started_at, completed_at, created_at)
                   VALUES (%s, 'sent', %s, %s + interval '1 hour', %s)""",
                (issue, started, started, started),
            )
        conn.execute("INSERT INTO issues (id) VALUES (%s)", (draft,))
        for name, (issues, reason, ago) in accounts.items():
            for issue in issues:
                conn.execute(
                    "INSERT INTO issue_recipients (delivery_id, issue_id, account_id) VALUES (%s, %s, %s)",
                    (uuid.uuid4(), issue, ids[name]),
                )
            conn.execute(
                "INSERT INTO subscription_endings (account_id, reason, ended_at) VALUES (%s, %s, %s)",
                (ids[name], reason, now - ago),
            )
    newsletter_fill = Before("newsletter", "newsletter", version=FILL + 1)
    assert migrate(url, newsletter_fill) == ["newsletter/009_issue_unsubscriptions.sql"]
    with psycopg.connect(url) as conn:
        figures = repository.figures(conn, [as_of_then(issue) for issue in (first, second, draft)])
    assert [figures[issue].unsubscribed for issue in (first, second, draft)] == [2, 1, 0]


ANONYMISE = 10  # 010_erased_recipients


def figures_of(conn: psycopg.Connection, issue_id: uuid.UUID) -> Figures:
    return repository.figures(conn, [as_of_then(issue_id)])[issue_id]


def test_the_migration_takes_the_accounts_erased_before_it_out_of_the_issues_recipients(infra):  # type: ignore[no-untyped-def]
    url = fresh_database(infra, "newsletter_erased_recipients")
    migrate(url, COMMON_MIGRATIONS, Before("newsletter", "newsletter", version=ANONYMISE))
    issue, erased, kept, reset = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO issues (id, status, started_at) VALUES (%s, 'sent', now())", (issue,))
        for account, outcome in ((erased, "bounced"), (kept, "sent"), (reset, "sent")):
            conn.execute(
                """INSERT INTO issue_recipients (delivery_id, issue_id, account_id, outcome)
                   VALUES (%s, %s, %s, %s)""",
                (uuid.uuid4(), issue, account, outcome),
            )
        conn.execute("INSERT INTO token_revocations (account_id, deleted_at) VALUES (%s, now())", (erased,))
        conn.execute(
            "INSERT INTO token_revocations (account_id, revoked_before) VALUES (%s, now())", (reset,)
        )
        before = figures_of(conn, issue)
    erasing = Before("newsletter", "newsletter", version=ANONYMISE + 1)
    assert migrate(url, erasing) == ["newsletter/010_erased_recipients.sql"]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT account_id, outcome FROM issue_recipients").fetchall()
        after = figures_of(conn, issue)
    assert sorted(rows, key=str) == sorted([(None, "bounced"), (kept, "sent"), (reset, "sent")], key=str)
    assert after == before and (after.recipients, after.bounced) == (3, 1)
