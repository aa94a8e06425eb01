"""The floor under a signup's CPU outside the hash: what the stack's own libraries cost per signup
before any code of ours runs, set against the aims of the signup-efficiency issue.

A signup passes through three of our processes, and each must at least do this much:
- identity web: gunicorn (two sync workers) and Flask take a POST of JSON and answer; measured on a
  bare app that only reads the body and answers 422 (`bare_app`), and, for comparison, on identity
  with a password the rules refuse (our middleware, the per-IP limit's statement, validation and
  the problem; no hash);
- identity relay: kafka-python's idempotent producer (as `create_producer` makes it) sends the
  signup's RECORDS_PER_SIGNUP records and waits for their acks;
- mailer worker: kafka-python's consumer (as `create_consumer` makes it, on a topic of 30
  partitions) receives the code mail's record, and smtplib hands its bytes over a kept connection.
Each at RATE signups/s, the rate the mailer's aim is set at. CPU is the process's (or the web
workers') user + system time over the run. Ends with one line a script can read:
`floor outside the hash: <ms> ms (aim 4 ms); mailer floor per mail: <ms> ms (aim 1 ms)`.

Run: `make bench BENCH=stack_floor`.
"""

import http.client
import json
import multiprocessing
import resource
import smtplib
import threading
import time
import uuid
from collections.abc import Callable

from flask import Flask, request

from accounts_common.events import Topic
from accounts_common.events.topics import delete_topics, ensure_topics
from accounts_common.kafka import await_partitions, create_consumer, create_producer
from bench.support import LOGS, RUN_ID, SignupStack, children, cpu_seconds, infra_env
from tests.support.processes import ServiceProcess, free_port

RATE = 44.0
SECONDS = 30.0
WARM_UP_S = 5.0
PARTITIONS = 30
RECORDS_PER_SIGNUP = 3  # UserRegistered, the account's state record, the code mail's request
RECORD = json.dumps({"specversion": "1.0", "type": "CodeIssued", "data": {"padding": "y" * 700}}).encode()
MAIL = (
    b"From: Accounts <no-reply@example.org>\r\nTo: floor@example.org\r\nSubject: Your code\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + b"Your code is 123456.\r\n" * 40
)
AIM_OUTSIDE_HASH_MS = 4.0
AIM_MAILER_MS = 1.0


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def paced(rate: float, seconds: float, action: Callable[[int], None]) -> int:
    """`action(i)` at `rate` per second for `seconds`; how many times it ran."""
    start = time.monotonic()
    done = 0
    while (now := time.monotonic()) - start < seconds:
        action(done)
        done += 1
        time.sleep(max(0.0, start + done / rate - now))
    return done


def per_signup_ms(cpu_before: float, cpu_after: float, signups: int) -> float:
    return (cpu_after - cpu_before) * 1000 / signups


def bare_app() -> Flask:
    """gunicorn's and Flask's share of a refused signup: the JSON body read, a 422 answered."""
    app = Flask(__name__)
    app.get("/healthz")(lambda: "ok")

    @app.post("/v1/accounts")
    def refuse() -> tuple[dict[str, str], int]:
        request.get_json()
        return {"title": "refused"}, 422

    return app


def refused_signups(port: int, workers: list[int]) -> float:
    """CPU of the web workers per POST /v1/accounts with a password too short, at RATE."""

    def refused_signup(_: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        body = json.dumps({"email": f"floor-{uuid.uuid4().hex}@example.org", "password": "short"})
        connection.request("POST", "/v1/accounts", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 422, response.status

    paced(RATE, WARM_UP_S, refused_signup)
    before = sum(cpu_seconds(pid) for pid in workers)
    signups = paced(RATE, SECONDS, refused_signup)
    return per_signup_ms(before, sum(cpu_seconds(pid) for pid in workers), signups)


def web_floors() -> tuple[float, float]:
    """The bare app's CPU per refused signup, then identity's."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    bare = ServiceProcess(
        "floor-web",
        ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "bench.stack_floor:bare_app()"],
        {},
        LOGS,
    ).start()
    try:
        bare.wait_http(f"http://127.0.0.1:{port}/healthz")
        bare_cpu = refused_signups(port, children(bare.process.pid))  # type: ignore[union-attr]
    finally:
        bare.stop()
    with SignupStack() as stack:
        identity_cpu = refused_signups(stack.port, children(stack.processes[0].process.pid))  # type: ignore[union-attr]
    return bare_cpu, identity_cpu


def relay_floor(kafka: str, topics: list[str]) -> float:
    """CPU of this process per signup's records sent and acknowledged."""
    producer = create_producer(kafka, client_id=f"floor-{RUN_ID}")

    def publish(i: int) -> None:
        for topic in topics:
            producer.send(topic, RECORD, key=str(i).encode())
        producer.flush()

    paced(RATE, WARM_UP_S, publish)
    before = own_cpu_seconds()
    signups = paced(RATE, SECONDS, publish)
    cpu = per_signup_ms(before, own_cpu_seconds(), signups)
    producer.close()
    return cpu


def _produce_at_rate(kafka: str, topic: str, seconds: float) -> None:
    """Run in a process of its own, so that its CPU is not the consumer's."""
    producer = create_producer(kafka, client_id=f"floor-feed-{RUN_ID}")

    def send(i: int) -> None:
        producer.send(topic, RECORD, key=str(i).encode())

    paced(RATE, seconds, send)
    producer.flush()
    producer.close()


def consumer_floor(kafka: str, topic: str) -> float:
    """CPU of this process per record received by a consumer that does nothing with it."""
    consumer = create_consumer(kafka, group_id=f"floor-{RUN_ID}", topics=(topic,))
    stop = threading.Event()
    await_partitions(consumer, (topic,), stop)
    received = [0]

    def consume() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=500).values():
                received[0] += len(records)

    reader = threading.Thread(target=consume)
    reader.start()
    feed = multiprocessing.get_context("fork").Process(
        target=_produce_at_rate, args=(kafka, topic, WARM_UP_S + SECONDS + 1)
    )
    feed.start()
    time.sleep(WARM_UP_S)
    before, received_before = own_cpu_seconds(), received[0]
    time.sleep(SECONDS)
    after, records = own_cpu_seconds(), received[0] - received_before
    feed.join()
    stop.set()
    reader.join()
    consumer.close(autocommit=False)
    return per_signup_ms(before, after, records)


def smtp_floor(host: str, port: int) -> float:
    """CPU of this process per mail of prebuilt bytes over one kept SMTP connection."""
    with smtplib.SMTP(host, port) as connection:

        def send(i: int) -> None:
            connection.sendmail("no-reply@example.org", [f"floor-{i}@example.org"], MAIL)

        paced(RATE, WARM_UP_S, send)
        before = own_cpu_seconds()
        mails = paced(RATE, SECONDS, send)
        return per_signup_ms(before, own_cpu_seconds(), mails)


def show(what: str, ms: float) -> float:
    print(f"  {what:<60} {ms:5.2f} ms", flush=True)
    return ms


def main() -> None:
    env = infra_env()
    kafka = env["KAFKA_BOOTSTRAP_SERVERS"]
    topics = [f"bench-floor-{RUN_ID}-{n}" for n in range(RECORDS_PER_SIGNUP)]
    ensure_topics(kafka, tuple(Topic(name, PARTITIONS) for name in topics))
    print(
        f"stack_floor, CPU per signup at {RATE:.0f}/s",
        f"({SECONDS:.0f} s each, after {WARM_UP_S:.0f} s of warm-up):",
    )
    try:
        bare, identity = web_floors()
        web = show("web, gunicorn and Flask answering a POST of JSON", bare)
        show("(identity web, a signup refused by its password rules)", identity)
        relay = show(
            f"relay, {RECORDS_PER_SIGNUP} records sent and acknowledged (kafka-python)",
            relay_floor(kafka, topics),
        )
        consumer = show("mailer, one record received (kafka-python)", consumer_floor(kafka, topics[0]))
        smtp = show(
            "mailer, one mail's bytes over a kept SMTP connection",
            smtp_floor(env["SMTP_HOST"], int(env["SMTP_PORT"])),
        )
    finally:
        delete_topics(kafka, topics)
    print(
        f"floor outside the hash: {web + relay + consumer + smtp:.2f} ms (aim {AIM_OUTSIDE_HASH_MS:g} ms); "
        f"mailer floor per mail: {consumer + smtp:.2f} ms (aim {AIM_MAILER_MS:g} ms)"
    )


if __name__ == "__main__":
    main()
