"""Open-loop signup load: the peak sustainable registration rate, then signup → code in the sink at 80 %.

Open loop: registrations leave on a fixed schedule (a constant arrival rate) whatever the server
does, each as an asyncio task on a connection of its own (no cap on how many are in flight, and
no thread per request eating the cores the server needs), and a latency is counted from the
scheduled send time, so a server falling behind shows as growing latencies instead of slowing the
client down (no coordinated omission). Everything runs on this machine: identity web (2 gunicorn
workers), relay, mailer worker, Kafka, PostgreSQL, an SMTP sink of the benchmark's own, and this
client.

A warm-up at the search's first rate comes first, not counted: on a cold stack (a new broker's JIT
compiler took 12 s of CPU in its first minutes, in bursts) the first step failed at 43/s, a rate
held once warm, and the search never looked higher.
Sustainable: every answer 202 and p99 < 250 ms over the hold. The search climbs in steps with a
short hold, refines between the last rate that held and the first that did not, then confirms
the best with a 60 s hold (stepping down until one holds). Then signups at 80 % of that peak,
for the latency from the scheduled send to the code email's arrival in the sink.
Run: `make bench BENCH=signup_load`
(or `.venv/bin/python -m bench.signup_load [--warm-up S] [--hold S] [--confirm S]`).
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from bench.chaos.infra import PrivateSink
from bench.registration_throughput import raw_hash_rate
from bench.support import LOGS, SignupStack, arrived_at, describe_ms, percentile
from identity.bootstrap import password_hasher
from identity.settings import Settings

PASSWORD = "Correct-Horse-9!"
P99_LIMIT_S = 0.250
START_SHARE, STEP_SHARE = 0.4, 0.1  # of the raw argon2id rate: where the search starts, its steps


@dataclass
class Run:
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)  # email -> scheduled wall-clock time

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99) if self.latencies else float("inf")

    @property
    def held(self) -> bool:
        return self.failures == 0 and self.p99 < P99_LIMIT_S

    def describe(self) -> str:
        verdict = "held" if self.held else "did not hold"
        latencies = describe_ms(self.latencies)
        return f"{self.rate:5.1f}/s for {self.seconds:.0f} s: {verdict}; {latencies}, {self.failures} not 202"


def open_loop(url: str, rate: float, seconds: float) -> Run:
    """POST /v1/accounts at `rate` per second for `seconds`; latency from each scheduled send time."""
    return asyncio.run(_open_loop(urlsplit(url), rate, seconds))


async def _open_loop(server: SplitResult, rate: float, seconds: float) -> Run:
    run = Run(rate, seconds)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    wall_start = time.time() + 0.2

    async def one(scheduled: float, email: str) -> None:
        try:
            status = await _post_json(server, "/v1/accounts", {"email": email, "password": PASSWORD})
        except OSError:
            status = 0
        run.latencies.append(loop.time() - scheduled)
        run.failures += status != 202

    sending = set()
    for n in range(int(rate * seconds)):
        scheduled = start + n / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        email = f"load-{uuid.uuid4().hex[:12]}@bench.example.org"
        run.sent_at[email] = wall_start + n / rate
        task = asyncio.create_task(one(scheduled, email))
        sending.add(task)
        task.add_done_callback(sending.discard)
    await asyncio.gather(*sending)
    return run


async def _post_json(server: SplitResult, path: str, body: dict[str, str]) -> int:
    """The status of one request on a connection of its own (as a first visit makes it)."""
    reader, writer = await asyncio.open_connection(server.hostname, server.port)
    try:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {server.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        status_line = await reader.readline()
        await reader.read()  # the rest, until the server closes
    finally:
        writer.close()
    return int(status_line.split()[1])


def peak_rate(url: str, raw: float, hold: float, confirm: float) -> Run:
    """The highest rate that held for `confirm` seconds (printing every step)."""
    step = STEP_SHARE * raw
    rate, best, first_bad = START_SHARE * raw, None, None
    while best is None or first_bad is None:
        run = open_loop(url, rate, hold)
        print(f"  search {run.describe()}", flush=True)
        if run.held:
            best = rate
        else:
            first_bad = rate
        if best is None and rate <= step:
            raise SystemExit(f"not even {rate:.1f}/s held")
        rate = rate + step if first_bad is None else rate - step
    middle = (best + first_bad) / 2
    run = open_loop(url, middle, hold)
    print(f"  refine {run.describe()}", flush=True)
    candidate = middle if run.held else best
    while True:
        run = open_loop(url, candidate, confirm)
        print(f"  confirm {run.describe()}", flush=True)
        if run.held:
            return run
        if candidate <= step:
            raise SystemExit(f"no rate held for {confirm:.0f} s, down to {candidate:.1f}/s")
        candidate -= step / 2


def code_latencies(sink: PrivateSink, run: Run) -> list[float]:
    """Seconds from each signup's scheduled send to its email's arrival in the sink."""
    arrived: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while len(arrived) < len(run.sent_at) and time.monotonic() < deadline:
        for message in sink.inbox.summaries():
            for recipient in message["to"]:
                if recipient in run.sent_at:
                    arrived.setdefault(recipient, arrived_at(message))
        time.sleep(1)
    missing = len(run.sent_at) - len(arrived)
    if missing:
        print(f"  {missing} code email(s) had not arrived after 60 s")
    return [arrived[email] - sent for email, sent in run.sent_at.items() if email in arrived]


@contextmanager
def stack_and_sink() -> Iterator[tuple[SignupStack, PrivateSink]]:
    """The signup stack mailing into an SMTP sink of its own, both stopped afterwards."""
    LOGS.mkdir(parents=True, exist_ok=True)
    sink = PrivateSink(LOGS, faults=False)  # Mailpit alone: a relaying fault handler would be measured too
    sink.start()
    try:
        with SignupStack(smtp_port=sink.smtp_port) as stack:
            yield stack, sink
    finally:
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--warm-up", type=float, default=60.0, help="seconds of uncounted load first (default 60)"
    )
    parser.add_argument("--hold", type=float, default=15.0, help="seconds per search step (default 15)")
    parser.add_argument(
        "--confirm", type=float, default=60.0, help="seconds of the confirming run (default 60)"
    )
    args = parser.parse_args()
    with stack_and_sink() as (stack, sink):
        raw = raw_hash_rate(password_hasher(Settings.from_env()), 2, 10)
        print(
            f"signup_load: {os.cpu_count()} CPUs, raw argon2id rate of 2 processes {raw:.1f} hashes/s",
            flush=True,
        )
        warm_up = open_loop(stack.identity_url, START_SHARE * raw, args.warm_up)
        print(f"  warm-up {warm_up.describe()}", flush=True)
        peak = peak_rate(stack.identity_url, raw, args.hold, args.confirm)
        share = peak.rate / raw * 100
        print(f"  peak sustainable rate {peak.rate:.1f}/s = {share:.0f} % of the raw argon2id rate")
        rate = 0.8 * peak.rate
        run = open_loop(stack.identity_url, rate, args.confirm)
        print(f"  at 80 % of the peak, {run.describe()}")
        print(f"  signup → code in the sink at {rate:.1f}/s: {describe_ms(code_latencies(sink, run))}")


if __name__ == "__main__":
    main()
