"""Catalogue search latency at 10,000 and 100,000 synthetic videos, 4 concurrent clients.

DESIGN §7 aims for p99 ≤ 50 ms at 100,000. `catalogue generate` fills a fresh database; `catalogue
web` (2 gunicorn workers) answers 4 keep-alive clients, each sending REQUESTS_PER_CLIENT mixed
queries: one word, two words, a phrase taken from a real title, and a word with a date range or a
tag. Latency is measured by the client, per request. Run with `make bench BENCH=catalogue_search`.
"""

import http.client
import random
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict

import psycopg

from bench.support import LOGS, BenchDatabases, describe_ms, infra_env
from catalogue.synthetic import NEWS_WORDS, TAGS
from tests.support.processes import ServiceProcess, free_port, run_once

SIZES = (10_000, 100_000)
CLIENTS = 4
REQUESTS_PER_CLIENT = 400


def sample_phrases(database_url: str, count: int = 200) -> list[str]:
    """Two adjacent words of real titles, so phrase queries find something."""
    with psycopg.connect(database_url) as conn:
        titles = [
            row[0] for row in conn.execute("SELECT title_en FROM videos ORDER BY random() LIMIT %s", (count,))
        ]
    phrases = []
    for title in titles:
        words = title.lower().split()
        start = random.randrange(len(words) - 1)
        phrases.append(" ".join(words[start : start + 2]))
    return phrases


def queries(rng: random.Random, phrases: list[str]) -> tuple[str, dict[str, str]]:
    """One query of a random kind: (kind, query string parameters)."""
    kind = rng.choice(("one word", "two words", "phrase", "word + dates", "word + tag"))
    word = rng.choice(NEWS_WORDS)
    if kind == "one word":
        return kind, {"q": word}
    if kind == "two words":
        return kind, {"q": f"{word} {rng.choice(NEWS_WORDS)}"}
    if kind == "phrase":
        return kind, {"q": f'"{rng.choice(phrases)}"'}
    if kind == "word + dates":
        year = rng.randint(2012, 2024)
        return kind, {"q": word, "from": f"{year}-01-01", "to": f"{year}-06-30"}
    return kind, {"q": word, "tag": rng.choice(TAGS)}


def client(
    port: int, phrases: list[str], seed: int, results: dict[str, list[float]], lock: threading.Lock
) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine: dict[str, list[float]] = defaultdict(list)
    for _ in range(REQUESTS_PER_CLIENT):
        kind, params = queries(rng, phrases)
        started = time.perf_counter()
        connection.request("GET", f"/v1/videos?{urllib.parse.urlencode(params)}")
        response = connection.getresponse()
        response.read()
        mine[kind].append(time.perf_counter() - started)
        assert response.status == 200, response.status
    connection.close()
    with lock:
        for kind, samples in mine.items():
            results[kind].extend(samples)


def measure(port: int, database_url: str) -> dict[str, list[float]]:
    phrases = sample_phrases(database_url)
    results: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    client(port, phrases, 0, defaultdict(list), lock)  # warm-up: caches, plans, connections
    threads = [
        threading.Thread(target=client, args=(port, phrases, n + 1, results, lock)) for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    env = infra_env()
    databases = BenchDatabases(env["DATABASE_URL"])
    LOGS.mkdir(parents=True, exist_ok=True)
    web_env = {
        **env,
        "CATALOGUE_DATABASE_URL": databases.create("catalogue"),
        "CATALOGUE_DOWNLOAD_LINK_KEY": f"bench-link-key-{uuid.uuid4().hex}",
        "LOG_LEVEL": "WARNING",
    }
    port = free_port()
    web = ServiceProcess(
        "catalogue-web", ["catalogue", "web", "--port", str(port), "--workers", "2"], web_env, LOGS
    )
    try:
        run_once(["catalogue", "migrate"], web_env)
        web.start().wait_http(f"http://127.0.0.1:{port}/readyz")
        present = 0
        for size in SIZES:
            started = time.perf_counter()
            run_once(["catalogue", "generate", str(size - present), "--seed", str(size)], web_env)
            print(f"{size:,} videos (generated in {time.perf_counter() - started:.0f} s), "
                  f"{CLIENTS} clients × {REQUESTS_PER_CLIENT} requests:")  # fmt: skip
            present = size
            results = measure(port, web_env["CATALOGUE_DATABASE_URL"])
            for kind, samples in sorted(results.items()):
                print(f"  {kind:<13} {describe_ms(samples)}")
            print(f"  {'all':<13} {describe_ms([s for samples in results.values() for s in samples])}")
    finally:
        web.stop()
        databases.drop_all()


if __name__ == "__main__":
    main()
