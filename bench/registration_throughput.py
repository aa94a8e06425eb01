"""Registration throughput at saturation next to the machine's raw argon2id hash rate.

DESIGN §7: registrations/s ≥ 70 % of raw argon2id hashes/s with the same parameters (hashing is the
floor; everything else must be cheap). Starts `identity web` (gunicorn, 2 workers) on a fresh
database, and measures both in one run. Run from the repository root:
`.venv/bin/python -m bench.registration_throughput [SECONDS]`.
"""

import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher

from accounts_common.config import LOCAL_KAFKA, LOCAL_POSTGRES
from bench.support import LOGS, UNLIMITED_RATES, BenchDatabases
from identity.bootstrap import password_hasher
from identity.settings import Settings
from tests.support.http import call
from tests.support.processes import ServiceProcess, free_port, run_once

PASSWORD = "Correct-Horse-9!"
WORKERS = 2
CLIENTS = 6  # enough concurrent requests to keep both sync workers busy all the time
WARMUP_S = 2.0
ROUNDS = 3  # raw and HTTP alternate, so load from anything else on the machine falls on both alike


@dataclass(frozen=True)
class Running:
    url: str
    settings: Settings
    database_url: str


@contextmanager
def identity_web(workers: int = WORKERS, **variables: str) -> Iterator[Running]:
    """`identity web` on a fresh database with every rate limit raised; stopped and dropped after."""
    postgres = os.environ.get("DATABASE_URL", LOCAL_POSTGRES)
    databases = BenchDatabases(postgres)
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA),
        "IDENTITY_DATABASE_URL": databases.create("identity"),
        "LOG_LEVEL": "WARNING",
        **UNLIMITED_RATES,
        **variables,
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    web = ServiceProcess(
        "identity-web", ["identity", "web", "--port", str(port), "--workers", str(workers)], env, LOGS
    )
    try:
        run_once(["identity", "migrate"], env)
        web.start()
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        # The server inherits this process's environment, so it hashes with these same settings.
        yield Running(f"http://127.0.0.1:{port}", Settings.from_env(), env["IDENTITY_DATABASE_URL"])
    finally:
        if web.process is not None:
            web.stop()
        databases.drop_all()


def _hash_until(deadline: float, hasher: PasswordHasher, counts: "multiprocessing.Queue[int]") -> None:
    done = 0
    while time.monotonic() < deadline:
        hasher.hash(PASSWORD)
        done += 1
    counts.put(done)


def raw_hash_rate(hasher: PasswordHasher, processes: int, seconds: float) -> float:
    """argon2id hashes per second with `processes` processes hashing flat out (one per gunicorn worker)."""
    counts: multiprocessing.Queue[int] = multiprocessing.Queue()
    deadline = time.monotonic() + seconds
    workers = [
        multiprocessing.Process(target=_hash_until, args=(deadline, hasher, counts)) for _ in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    total = sum(counts.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total / (time.monotonic() - started)


def registration_rate(url: str, seconds: float) -> tuple[float, int]:
    """Accepted registrations per second with CLIENTS concurrent clients, counting those answered within
    the `seconds` after the warm-up (whenever they began: a steady stream counts at its rate); and any
    non-202 count."""
    accepted, refused, lock = 0, 0, threading.Lock()
    measure_from = time.monotonic() + WARMUP_S
    deadline = measure_from + seconds

    def client() -> None:
        nonlocal accepted, refused
        while time.monotonic() < deadline:
            email = f"bench-{uuid.uuid4().hex}@bench.example.org"
            status, _ = call("POST", f"{url}/v1/accounts", {"email": email, "password": PASSWORD})
            if measure_from <= time.monotonic() <= deadline:
                with lock:
                    accepted += status == 202
                    refused += status != 202

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted / seconds, refused


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    rounds = []
    with identity_web() as web:
        hasher = password_hasher(web.settings)
        for _ in range(ROUNDS):
            raw = raw_hash_rate(hasher, WORKERS, seconds)
            registrations, refused = registration_rate(web.url, seconds)
            rounds.append((raw, registrations, refused))
    print(
        f"registration_throughput: {os.cpu_count()} CPUs, argon2id t={hasher.time_cost} "
        f"m={hasher.memory_cost} KiB p={hasher.parallelism}; {ROUNDS} rounds of {seconds:.0f} s raw "
        f"then {seconds:.0f} s HTTP ({WORKERS} gunicorn workers, {CLIENTS} clients)"
    )
    for number, (raw, registrations, refused) in enumerate(rounds, 1):
        print(
            f"  round {number}: raw argon2id ({WORKERS} processes) {raw:6.1f} hashes/s, "
            f"POST /v1/accounts {registrations:6.1f} registrations/s ({refused} not 202), "
            f"ratio {registrations / raw * 100:5.1f} %"
        )
    ratio = statistics.median(registrations / raw for raw, registrations, _ in rounds)
    print(f"  median ratio: {ratio * 100:.1f} % of the raw hash rate (DESIGN §7 target: ≥ 70 %)")


if __name__ == "__main__":
    main()
