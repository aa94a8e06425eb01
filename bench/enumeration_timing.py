"""Response times of register, resend, reset, a failed login and a login with the password just
registered, for known (verified) versus unknown emails.

DESIGN §4: those answers must not tell known emails from unknown ones, in body, status or timing.
Starts `identity web` (gunicorn, 2 workers) on a fresh database with the resend cooldown off, so a
known email really gets a new code (or notice) every time (the costliest case), verifies the known
emails, and prints the medians. "register+login" times the login that follows a registration with
a password of the caller's choosing (a verified email's decoy versus a new email's pending one).
Run from the repository root: `.venv/bin/python -m bench.enumeration_timing [SAMPLES]`.
"""

import json
import random
import statistics
import sys
import time
import uuid

import psycopg

from accounts_common.codecrypt import cipher_from_env
from accounts_common.events.topics import CODES
from bench.registration_throughput import Running, identity_web
from tests.support.http import call

PASSWORD = "Correct-Horse-9!"
ENDPOINTS = {
    "register": ("/v1/accounts", lambda email: {"email": email, "password": PASSWORD}),
    # Without the registration id only its registrant has, a resend does nothing for any email.
    "resend": (
        "/v1/accounts/verification/resend",
        lambda email: {"email": email, "registration_id": str(uuid.uuid4())},
    ),
    "reset": ("/v1/password-resets", lambda email: {"email": email}),
    # Not one of DESIGN's three, but a wrong password must cost the same for an unknown email too.
    "login": ("/v1/sessions", lambda email: {"email": email, "password": "Wrong-Horse-9!x"}),
    # Timed after a registration of the email with that password (see `timed_round`).
    "register+login": ("/v1/sessions", lambda email: {"email": email, "password": DECOY_PASSWORD}),
}
DECOY_PASSWORD = "Someone-Else-7?"


def timed(url: str, body: dict[str, str]) -> tuple[float, int, object]:
    """Seconds one request took, with its status and body."""
    started = time.perf_counter()
    status, answer = call("POST", url, body)
    return time.perf_counter() - started, status, answer


def fresh_email() -> str:
    return f"bench-{uuid.uuid4().hex}@bench.example.org"


def verify_all(web: Running, emails: list[str]) -> None:
    """Register and verify each email, with the code read back from identity's outbox."""
    registrations = {}
    for email in emails:
        status, body = call("POST", f"{web.url}/v1/accounts", ENDPOINTS["register"][1](email))
        assert status == 202, body
        registrations[email] = body["registration_id"]
    cipher = cipher_from_env()
    with psycopg.connect(web.database_url) as conn:
        rows = conn.execute("SELECT record_value FROM outbox WHERE topic = %s", (CODES,)).fetchall()
    for data in (event["data"] for event in map(json.loads, (value for (value,) in rows))):
        code = cipher.decrypt(data["code_encrypted"])
        body = {"email": data["email"], "registration_id": registrations[data["email"]], "code": code}
        assert call("POST", f"{web.url}/v1/accounts/verification", body)[0] == 200


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    unlimited = "1000000000"
    variables = {
        "IDENTITY_RESEND_COOLDOWN_S": "0",
        "IDENTITY_CODES_PER_HOUR": unlimited,
        "IDENTITY_CODES_PER_HOUR_ALL": unlimited,
    }
    with identity_web(**variables) as web:
        known = [fresh_email() for _ in range(samples)]
        verify_all(web, known)
        # Each round asks every endpoint once for a known and once for an unknown email, in random order,
        # so drift over the run (caches, autovacuum) falls on both sides alike.
        times: dict[tuple[str, str], list[float]] = {
            (n, k): [] for n in ENDPOINTS for k in ("known", "unknown")
        }
        answers: dict[tuple[str, str], set[tuple[int, str]]] = {key: set() for key in times}
        for email in known:
            round_ = [(name, kind) for name in ENDPOINTS for kind in ("known", "unknown")]
            random.shuffle(round_)
            for name, kind in round_:
                path, body = ENDPOINTS[name]
                address = email if kind == "known" else fresh_email()
                if name == "register+login":
                    registration = {"email": address, "password": DECOY_PASSWORD}
                    assert call("POST", f"{web.url}/v1/accounts", registration)[0] == 202
                seconds, status, answer = timed(web.url + path, body(address))
                times[name, kind].append(seconds)
                if isinstance(answer, dict):  # the email, and a registration's id, differ by design
                    answer = {
                        key: "" if key in ("email", "registration_id") else v for key, v in answer.items()
                    }
                answers[name, kind].add((status, repr(answer)))
    print(f"enumeration_timing: {samples} requests per endpoint and kind, sequential, interleaved at random")
    for name in ENDPOINTS:
        known_ms = statistics.median(times[name, "known"]) * 1000
        unknown_ms = statistics.median(times[name, "unknown"]) * 1000
        same = "same" if answers[name, "known"] == answers[name, "unknown"] else "DIFFERENT"
        print(
            f"  {name:14s} median known {known_ms:7.2f} ms, unknown {unknown_ms:7.2f} ms, "
            f"difference {known_ms - unknown_ms:+6.2f} ms ({known_ms / unknown_ms:.3f}x); "
            f"status and body: {same}"
        )


if __name__ == "__main__":
    main()
