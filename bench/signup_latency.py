"""Signup → email in the SMTP sink: latency of sequential signups through the running stack.

DESIGN §7 holds us to p50 ≤ 150 ms and p99 ≤ 500 ms. Run: `make bench` (or, with the
infrastructure up and its variables exported, `.venv/bin/python -m bench.signup_latency [N]`).
"""

import os
import sys
import time

from bench.support import SignupStack, describe_ms, infra_env
from tests.support.http import call
from tests.support.inbox import Inbox

PASSWORD = "Correct-Horse-9!"
POLL_INTERVAL_S = 0.002


def signup_to_email(stack: SignupStack, inbox: Inbox, email: str) -> float:
    """Seconds from sending the registration to the email being in the sink."""
    started = time.perf_counter()
    status, _ = call("POST", f"{stack.identity_url}/v1/accounts", {"email": email, "password": PASSWORD})
    assert status == 202, status
    deadline = started + 30
    while not inbox.summaries(email):
        if time.perf_counter() > deadline:
            raise SystemExit(f"no email for {email} after 30 s")
        time.sleep(POLL_INTERVAL_S)
    return time.perf_counter() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    infra_env()
    inbox = Inbox(os.environ["SMTP_SINK_URL"])
    with SignupStack() as stack:
        signup_to_email(stack, inbox, f"warmup-{time.time_ns()}@bench.example.org")
        samples = [
            signup_to_email(stack, inbox, f"latency-{n}-{time.time_ns()}@bench.example.org")
            for n in range(count)
        ]
    print(f"signup_latency: {count} sequential signups, registration request → email in the SMTP sink")
    print(f"  {describe_ms(samples)}")
    print("  DESIGN §7 target: p50 ≤ 150 ms, p99 ≤ 500 ms")


if __name__ == "__main__":
    main()
