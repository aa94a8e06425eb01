"""Response times of register, resend, reset (and a failed login) for known versus unknown emails.

DESIGN §4: those answers must not tell known emails from unknown ones, in body, status or timing.
Starts `identity web` (gunicorn, 2 workers) on a fresh database with the resend cooldown off, so a
known email really gets a new code every time (the costliest case), and prints the medians.
Run from the repository root: `.venv/bin/python -m bench.enumeration_timing [SAMPLES]`.
"""

import random
import statistics
import sys
import time
import uuid

from bench.registration_throughput import identity_web
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
}


def timed(url: str, body: dict[str, str]) -> tuple[float, int, object]:
    """Seconds one request took, with its status and body."""
    started = time.perf_counter()
    status, answer = call("POST", url, body)
    return time.perf_counter() - started, status, answer


def fresh_email() -> str:
    return f"bench-{uuid.uuid4().hex}@bench.example.org"


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    variables = {"IDENTITY_RESEND_COOLDOWN_S": "0", "IDENTITY_CODES_PER_HOUR": "1000000000"}
    with identity_web(**variables) as web:
        known = [fresh_email() for _ in range(samples)]
        for email in known:
            assert call("POST", f"{web.url}/v1/accounts", ENDPOINTS["register"][1](email))[0] == 202
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
                seconds, status, answer = timed(
                    web.url + path, body(email if kind == "known" else fresh_email())
                )
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
            f"  {name:8s} median known {known_ms:7.2f} ms, unknown {unknown_ms:7.2f} ms, "
            f"difference {known_ms - unknown_ms:+6.2f} ms ({known_ms / unknown_ms:.3f}x); "
            f"status and body: {same}"
        )


if __name__ == "__main__":
    main()
