"""A burst of signups from a few concurrent clients, and what reached the SMTP sink afterwards."""

import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tests.support.http import call
from tests.support.inbox import Inbox

PASSWORD = "Correct-Horse-9!"


@dataclass
class BurstResult:
    """The answer identity gave each address: 202 accepted, 503 refused for now, anything else an error."""

    statuses: dict[str, int | str] = field(default_factory=dict)
    last_answer_at: float = 0.0  # time.monotonic() of the last answer

    @property
    def accepted(self) -> list[str]:
        return [email for email, status in self.statuses.items() if status == 202]

    @property
    def refused(self) -> int:
        return sum(1 for status in self.statuses.values() if status == 503)

    @property
    def errors(self) -> Counter[int | str]:
        return Counter(status for status in self.statuses.values() if status not in (202, 503))


def signup(identity_url: str, email: str) -> int | str:
    try:
        status, _ = call("POST", f"{identity_url}/v1/accounts", {"email": email, "password": PASSWORD})
    except (urllib.error.URLError, OSError) as error:
        return type(error).__name__
    return status


def run_burst(
    identity_url: str, emails: list[str], *, clients: int, halfway: Callable[[], None]
) -> BurstResult:
    """Sign every address up with `clients` concurrent clients; call `halfway` once half are sent.

    `halfway` (the fault) runs on this thread while the clients keep going; the burst returns when
    both are done.
    """
    result = BurstResult()
    half_sent = threading.Event()
    next_index = iter(range(len(emails)))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            if index >= len(emails) // 2:
                half_sent.set()
            result.statuses[emails[index]] = signup(identity_url, emails[index])
            result.last_answer_at = max(result.last_answer_at, time.monotonic())

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        half_sent.wait()
        halfway()
        for future in futures:
            future.result()
    return result


def deliveries(inbox: Inbox, addresses: set[str]) -> Counter[str]:
    """How many emails the sink holds for each of these addresses."""
    counts: Counter[str] = Counter()
    for message in inbox.summaries():
        for recipient in message["to"]:
            if recipient.lower() in addresses:
                counts[recipient.lower()] += 1
    return counts


def wait_for_drain(inbox: Inbox, expected: set[str], started: float, timeout: float) -> float | None:
    """Seconds from `started` until every expected address has its email; None if not by `timeout`."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if set(deliveries(inbox, expected)) >= expected:
            return time.monotonic() - started
        time.sleep(0.5)
    return None
