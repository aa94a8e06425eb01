"""Identity's SQL for the counters around codes: code sends (the hourly caps), email reset codes and
wrong guesses per email. Parameters are always bound."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from identity.domain.codes import GuessLog, Purpose, StoredCode


@dataclass(frozen=True)
class ResetSlot:
    """An email's live reset code, counted; `account_id` is None for a decoy (no verified account)."""

    code: StoredCode
    account_id: UUID | None


def count_code_send(
    conn: psycopg.Connection,
    email_key: bytes,
    purpose: Purpose,
    requester_key: bytes,
    *,
    window_s: int,
    cap: int,
    cap_all: int,
) -> bool:
    """Count a code sent (or, for a decoy, as good as sent) to the email if the codes of this purpose
    sent in the last `window_s` are under `cap` from this requester and under `cap_all` from everyone;
    False, and nothing counted, otherwise. One statement: the check and the count are one round trip."""
    row = conn.execute(
        """INSERT INTO code_sends (email_key, purpose, requester_key)
           SELECT %(email)s, %(purpose)s, %(by)s
           FROM (SELECT count(*) AS everyone, count(*) FILTER (WHERE requester_key = %(by)s) AS by_requester
                 FROM code_sends
                 WHERE email_key = %(email)s AND purpose = %(purpose)s
                   AND sent_at > now() - make_interval(secs => %(window)s)) AS sent
           WHERE sent.by_requester < %(cap)s AND sent.everyone < %(cap_all)s
           RETURNING true""",
        {
            "email": email_key,
            "purpose": purpose,
            "by": requester_key,
            "window": window_s,
            "cap": cap,
            "cap_all": cap_all,
        },
    ).fetchone()
    return row is not None


def reset_code_sent_at(conn: psycopg.Connection, email_key: bytes) -> datetime | None:
    """When the email's live reset code was sent, locking its slot; None when it has none."""
    row = conn.execute(
        "SELECT code_sent_at FROM reset_codes WHERE email_key = %s FOR UPDATE", (email_key,)
    ).fetchone()
    return row[0] if row else None


def replace_reset_code(
    conn: psycopg.Connection, email_key: bytes, account_id: UUID | None, mac: bytes, expires_at: datetime
) -> None:
    """A new reset code for the email (a decoy when `account_id` is None), voiding the previous one."""
    conn.execute(
        """INSERT INTO reset_codes (email_key, account_id, code_mac, code_expires_at) VALUES (%s, %s, %s, %s)
           ON CONFLICT (email_key) DO UPDATE
           SET account_id = excluded.account_id, code_mac = excluded.code_mac,
               code_expires_at = excluded.code_expires_at, code_attempts = 0, used_at = NULL,
               code_sent_at = now()""",
        (email_key, account_id, mac, expires_at),
    )


def count_reset_attempt(conn: psycopg.Connection, email_key: bytes) -> ResetSlot | None:
    """Count one attempt at the email's live reset code, atomically; None when there is none."""
    row = conn.execute(
        """UPDATE reset_codes SET code_attempts = code_attempts + 1
           WHERE email_key = %s AND used_at IS NULL
           RETURNING code_mac, code_expires_at, code_attempts, account_id""",
        (email_key,),
    ).fetchone()
    if row is None:
        return None
    return ResetSlot(StoredCode(code_mac=row[0], expires_at=row[1], attempts=row[2]), account_id=row[3])


def use_reset_code(conn: psycopg.Connection, email_key: bytes) -> None:
    """Spend the email's reset code: it never works again."""
    conn.execute("UPDATE reset_codes SET used_at = now() WHERE email_key = %s", (email_key,))


def guess_log(conn: psycopg.Connection, email_key: bytes, purpose: Purpose) -> GuessLog:
    """The email's wrong codes for the purpose, locked until this transaction ends."""
    row = conn.execute(
        """SELECT failed_at, locked_until FROM code_guess_log WHERE email_key = %s AND purpose = %s
           FOR UPDATE""",
        (email_key, purpose),
    ).fetchone()
    return GuessLog() if row is None else GuessLog(tuple(row[0]), row[1])


def save_guess_log(conn: psycopg.Connection, email_key: bytes, purpose: Purpose, log: GuessLog) -> None:
    conn.execute(
        """INSERT INTO code_guess_log (email_key, purpose, failed_at, locked_until, changed_at)
           VALUES (%(key)s, %(purpose)s, %(failed_at)s, %(locked_until)s, now())
           ON CONFLICT (email_key, purpose) DO UPDATE SET failed_at = EXCLUDED.failed_at,
               locked_until = EXCLUDED.locked_until, changed_at = EXCLUDED.changed_at""",
        {
            "key": email_key,
            "purpose": purpose,
            "failed_at": list(log.failed_at),
            "locked_until": log.locked_until,
        },
    )
