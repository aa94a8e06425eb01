"""Use cases of support staff in the mailer: a person's emails, the dead letters and their replay.
Each is an OperatorActionRecorded through the mailer's outbox (the look-up in the same transaction
as the read; a replay once Kafka has acknowledged it)."""

from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

from accounts_common import dlq
from accounts_common.audit import record_action, record_actions
from accounts_common.dlq import DeadLetter, ReplayFailed
from accounts_common.emails import searched_email
from mailer.adapters import deliveries
from mailer.adapters.deliveries import Delivery

SOURCE = "/mailer"
NO_ACCOUNT = "(no account)"
TARGET_MAX_LENGTH = 512  # OperatorActionRecorded's target
LISTED_LETTERS = 500  # the oldest dead letters, listed; "Replay all" replays every one


@dataclass(frozen=True)
class Support:
    pool: ConnectionPool
    bootstrap_servers: str
    consumer_group: str  # whose dead letters: `<group>.dlq`

    def deliveries_to(self, email: str, actor: UUID) -> list[Delivery]:
        """The newest emails to an address; reading a person's mail log is recorded, with the
        accounts they went to as its target (the audit trail is kept for good: never the address). The
        address is searched as identity keeps it, and the mails went to it."""
        with self.pool.connection() as conn, conn.transaction():
            found = deliveries.deliveries_to(conn, searched_email(email))
            self._record(conn, actor, "deliveries.looked-up", accounts_of(found))
            return found

    def dead_letters(self, actor: UUID) -> tuple[list[DeadLetter], bool]:
        """The oldest dead letters still to deal with: not replayed yet, and not sent since (one
        replayed on its own that went through leaves the list); and whether more are left unlisted.
        A letter names a person's account and says what became of their mail: each one listed is
        recorded as read by `actor`, in the transaction that reads what was sent since."""
        letters, more = dlq.open_letters(self.bootstrap_servers, self.consumer_group, limit=LISTED_LETTERS)
        with self.pool.connection() as conn, conn.transaction():
            sent = deliveries.sent_events(conn, [letter.event_id for letter in letters])
            listed = [letter for letter in letters if letter.event_id not in sent]
            targets = [letter_target(letter) for letter in listed]
            record_actions(
                conn, source=SOURCE, actor_account_id=actor, action="mail.dead-letter-read", targets=targets
            )
        return listed, more

    def replay_one(self, partition: int, offset: int, actor: UUID) -> DeadLetter | None:
        """Put one dead letter back on its topic; None when there is no such letter."""
        letter = dlq.replay_letter(self.bootstrap_servers, self.consumer_group, partition, offset)
        if letter is not None:
            with self.pool.connection() as conn, conn.transaction():
                self._record(conn, actor, "mail.dead-letter-replayed", letter_target(letter))
        return letter

    def replay_all(self, actor: UUID) -> int:
        """Put every dead letter not replayed yet back on its topic; how many went. A replay Kafka
        stopped part way is recorded too when letters went back before (then ReplayFailed)."""
        try:
            replayed = dlq.replay(self.bootstrap_servers, self.consumer_group).replayed
        except ReplayFailed as stopped:
            if stopped.replayed:
                self._record_replay(actor, f"{stopped.replayed} letter(s), then stopped: {stopped}")
            raise
        self._record_replay(actor, f"{replayed} letter(s)")
        return replayed

    def _record_replay(self, actor: UUID, target: str) -> None:
        with self.pool.connection() as conn, conn.transaction():
            self._record(conn, actor, "mail.dead-letters-replayed", target[:TARGET_MAX_LENGTH])

    def _record(self, conn: psycopg.Connection, actor: UUID, action: str, target: str) -> None:
        record_action(conn, source=SOURCE, actor_account_id=actor, action=action, target=target)


def letter_target(letter: DeadLetter) -> str:
    """A letter as the audit trail names it, read or replayed: "CodeIssued <event id>", cut to the
    target's length (a record dead-lettered for what is wrong with it may have any type and id)."""
    return f"{letter.event_type} {letter.event_id}"[:TARGET_MAX_LENGTH]


def accounts_of(found: list[Delivery]) -> str:
    """The distinct account ids of these deliveries, sorted and comma-separated ("(no account)" when
    none has one); past the target's length, as many as fit and how many more there were."""
    accounts = sorted({str(delivery.account_id) for delivery in found if delivery.account_id})
    if not accounts:
        return NO_ACCOUNT
    target, kept = ",".join(accounts), len(accounts)
    while len(target) > TARGET_MAX_LENGTH:
        kept -= 1
        target = ",".join(accounts[:kept]) + f",… {len(accounts) - kept} more"
    return target
