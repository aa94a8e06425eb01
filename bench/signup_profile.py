"""Where a signup's CPU goes: CPU-seconds per signup by process, and the web workers' hot frames.

Signups at a fixed open-loop rate through the co-located stack (identity web with 2 gunicorn
workers, relay, mailer worker, Kafka, PostgreSQL, an SMTP sink of the benchmark's own, and this
client), after an uncounted warm-up at the same rate (cold processes' first calls and a new broker's
JIT compiler would be counted otherwise), twice:
1. accounting: each process's CPU time from /proc (what `top` or `pidstat` show) between the first
   signup and the last code email in the sink, per signup; Kafka and the whole PostgreSQL server
   are shared with anything else on the machine, so the machine's own total is printed beside them.
   With one hash's CPU time measured here, the rate at which a signup's CPU fills every core: the
   ceiling of the peak rate with everything co-located, as a share of the raw hash rate (a figure
   that other work on the machine barely moves, unlike a measured peak);
2. sampling: the same load with py-spy recording the web workers, the relay and the mailer worker
   (speedscope files in .state/bench-logs/), then their non-hashing time by frame.
py-spy counts a thread while it is runnable, so on a machine busy with other work its figures
include time spent waiting for a core; the /proc figures do not.
Run: `make bench BENCH=signup_profile` (or `.venv/bin/python -m bench.signup_profile --rate R --seconds S`,
`--no-sampling` for the accounting alone, `--warm-up S`).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.chaos.infra import PrivateSink
from bench.signup_load import PASSWORD, Run, code_latencies, open_loop, stack_and_sink
from bench.support import CLOCK_TICKS, LOGS, SignupStack, children, cpu_seconds, describe_ms
from identity.bootstrap import password_hasher
from identity.settings import Settings
from tests.support.polling import wait_for

SAMPLING_HZ = 100
TOP_FRAMES = 12
KAFKA = "Kafka broker"
# Our own processes, whose CPU per signup outside the hash is the figure
SERVICES = ("identity web workers", "identity web master", "identity relay", "mailer worker")
LOOP_SHARE = 0.9
HASHING_FILES = ("argon2/",)  # a sample whose stack passes through argon2-cffi is hashing time
PY_SPY = Path(sys.executable).parent / "py-spy"


def machine_busy_seconds() -> float:
    """CPU-seconds every core of the machine spent busy so far (all processes, anyone's)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def command_lines() -> dict[int, str]:
    """Every process's command line, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


@dataclass
class Group:
    """Processes counted together (found again at each reading: backends and workers may change)."""

    name: str
    pids: Callable[[], Iterable[int]]
    shared: bool = False  # serves others on the machine too


def process_groups(stack: SignupStack, sink: PrivateSink) -> list[Group]:
    web, relay, worker = (process.process for process in stack.processes)
    assert web and relay and worker and sink.processes

    def matching(*needles: str) -> Callable[[], list[int]]:
        return lambda: [pid for pid, line in command_lines().items() if any(n in line for n in needles)]

    return [
        Group("identity web workers", lambda: children(web.pid)),
        Group("identity web master", lambda: [web.pid]),
        Group("identity relay", lambda: [relay.pid]),
        Group("mailer worker", lambda: [worker.pid]),
        *(Group(f"PostgreSQL backends, {name}", matching(f" {name} ")) for name in stack.databases.names),
        Group("SMTP sink", lambda: sink.pids),
        Group("load client (this process)", lambda: [os.getpid()]),
        Group(KAFKA, matching("kafka.Kafka "), shared=True),
        Group("PostgreSQL server, all processes", matching("postgres:", "bin/postgres "), shared=True),
    ]


def read_cpu(groups: list[Group]) -> dict[str, dict[int, float]]:
    return {group.name: {pid: cpu_seconds(pid) for pid in group.pids()} for group in groups}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU-seconds between two readings; a process that appeared in between counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@dataclass
class Load:
    signups: int
    seconds: float  # from the first scheduled signup to the last code email in the sink
    run: Run


def signups_until_mailed(stack: SignupStack, sink: PrivateSink, rate: float, seconds: float) -> Load:
    """Signups at `rate` for `seconds`, until the sink holds all their emails (read by count: listing
    the messages would cost the sink CPU that is the reader's, not the system's)."""
    expected = sink.inbox.total() + int(rate * seconds)
    started = time.monotonic()
    run = open_loop(stack.identity_url, rate, seconds)
    wait_for(lambda: sink.inbox.total() >= expected, timeout=60, what="every code email", interval=0.2)
    return Load(len(run.sent_at), time.monotonic() - started, run)


def describe_load(sink: PrivateSink, load: Load) -> None:
    print(f"  {load.run.describe()}", flush=True)
    print(f"  signup → code in the sink: {describe_ms(code_latencies(sink, load.run))}", flush=True)


def account_cpu(stack: SignupStack, sink: PrivateSink, rate: float, seconds: float) -> None:
    groups = process_groups(stack, sink)
    before, machine_before = read_cpu(groups), machine_busy_seconds()
    load = signups_until_mailed(stack, sink, rate, seconds)
    after, machine = read_cpu(groups), machine_busy_seconds() - machine_before
    describe_load(sink, load)
    print(f"  CPU per signup by process ({load.signups} signups, {load.seconds:.0f} s window):")
    used = {group.name: cpu_used(before[group.name], after[group.name]) / load.signups for group in groups}
    for group in groups:
        note = " (shared: includes anyone else's use)" if group.shared else ""
        print(f"    {group.name:46} {used[group.name] * 1000:7.2f} ms{note}")
    own = sum(used[group.name] for group in groups if not group.shared)
    print(
        f"    {'machine, every process':46} {machine / load.signups * 1000:7.2f} ms "
        f"({machine / load.seconds:.2f} of {os.cpu_count()} cores busy; the run's own processes above, "
        f"without the shared ones: {own * 1000:.2f} ms)"
    )
    hashing = hash_cpu_seconds()
    print_ceiling(own + used[KAFKA], hashing)
    services = sum(used[name] for name in SERVICES) - hashing
    print(f"  mailer worker per code mail: {used['mailer worker'] * 1000:.2f} ms")
    print(
        f"signup CPU: {(own + used[KAFKA]) * 1000:.1f} ms = {(own + used[KAFKA]) / hashing:.2f}x one hash; "
        f"services outside the hash {services * 1000:.1f} ms; ceiling {ceiling(own + used[KAFKA]):.1f}/s",
        flush=True,
    )


def ceiling(per_signup: float) -> float:
    """Signups per second at which the signups' CPU fills every core."""
    return (os.cpu_count() or 1) / per_signup


def print_ceiling(per_signup: float, hashing: float) -> None:
    """The rate at which the signups' CPU fills every core, against the raw hash rate on as many."""
    cores = os.cpu_count() or 1
    print(
        f"  one argon2id hash here: {hashing * 1000:.2f} ms of CPU; a signup, run's processes and Kafka: "
        f"{per_signup * 1000:.2f} ms, of which not hashing {(per_signup - hashing) * 1000:.2f} ms"
    )
    print(
        f"  CPU-bound ceiling, everything co-located: {ceiling(per_signup):.1f} signups/s = "
        f"{hashing / per_signup * 100:.0f} % of the raw argon2id rate ({cores / hashing:.1f} hashes/s)"
    )


def hash_cpu_seconds(hashes: int = 50) -> float:
    """CPU time of one argon2id hash with identity's settings, in this process."""
    hasher = password_hasher(Settings.from_env())
    started = time.process_time()
    for _ in range(hashes):
        hasher.hash(PASSWORD)
    return (time.process_time() - started) / hashes


def record(pid: int, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """py-spy recording `pid` until interrupted, without pausing it, into a speedscope file."""
    output = LOGS / f"signup-profile-{name}-{pid}.speedscope.json"
    command = [str(PY_SPY), "record", "--nonblocking", "--format", "speedscope", "--rate", str(SAMPLING_HZ)]
    command += ["--output", str(output), "--pid", str(pid)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return spy, output


Frame = tuple[str, str, int]  # function, file, line


@dataclass
class Profile:
    """The samples of one or more speedscope files: (stack, seconds), stacks root first."""

    samples: list[tuple[tuple[Frame, ...], float]]

    @classmethod
    def load(cls, paths: Iterable[Path]) -> "Profile":
        samples = []
        for path in paths:
            document = json.loads(path.read_text())
            frames = [(frame["name"], frame["file"], frame["line"]) for frame in document["shared"]["frames"]]
            for profile in document["profiles"]:
                for stack, seconds in zip(profile["samples"], profile["weights"], strict=True):
                    samples.append((tuple(frames[index] for index in stack), seconds))
        return cls(samples)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.samples)

    def without_hashing(self) -> "Profile":
        return Profile([(stack, seconds) for stack, seconds in self.samples if not _hashing(stack)])

    def self_time(self) -> Counter[Frame]:
        counts: Counter[Frame] = Counter()
        for stack, seconds in self.samples:
            if stack:
                counts[stack[-1]] += seconds
        return counts

    def inclusive_time(self) -> Counter[Frame]:
        counts: Counter[Frame] = Counter()
        for stack, seconds in self.samples:
            for frame in set(stack):
                counts[frame] += seconds
        return counts


def _hashing(stack: tuple[Frame, ...]) -> bool:
    return any(any(part in file for part in HASHING_FILES) for _, file, _ in stack)


def show_frames(title: str, counts: Counter[Frame], total: float, signups: int) -> None:
    """The heaviest frames, leaving out those on nearly every stack (the process's main loops)."""
    print(f"    {title}:")
    shown = [(frame, seconds) for frame, seconds in counts.most_common() if seconds < LOOP_SHARE * total]
    for (function, file, line), seconds in shown[:TOP_FRAMES]:
        where = "/".join(Path(file).parts[-2:])
        share, per_signup = seconds / total * 100, seconds / signups * 1000
        print(f"      {share:5.1f} % {per_signup:6.2f} ms  {function} ({where}:{line})")


def sample_frames(stack: SignupStack, sink: PrivateSink, rate: float, seconds: float) -> None:
    web, relay, worker = (process.process for process in stack.processes)
    assert web and relay and worker
    targets = [("web", pid) for pid in children(web.pid)] + [("relay", relay.pid), ("worker", worker.pid)]
    spies = [(name, *record(pid, name)) for name, pid in targets]
    load = signups_until_mailed(stack, sink, rate, seconds)
    outputs: dict[str, list[Path]] = {}
    for name, spy, output in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on the way out
        _, errors = spy.communicate()
        if spy.returncode != 0:
            raise SystemExit(f"py-spy on {name} failed: {errors.decode(errors='replace')}")
        outputs.setdefault(name, []).append(output)
    describe_load(sink, load)
    for name, paths in outputs.items():
        report_profile(name, Profile.load(paths), load.signups)


def report_profile(name: str, profile: Profile, signups: int) -> None:
    busy = profile.without_hashing()
    sampled, rest = profile.seconds / signups * 1000, busy.seconds / signups * 1000
    print(
        f"  {name}: {sampled:.2f} ms sampled per signup, of which hashing {sampled - rest:.2f} ms "
        f"and the rest {rest:.2f} ms"
    )
    if busy.samples:
        show_frames("non-hashing, by own time", busy.self_time(), busy.seconds, signups)
        show_frames("non-hashing, including callees", busy.inclusive_time(), busy.seconds, signups)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=40.0, help="signups per second (default 40)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of load per phase (default 30)")
    parser.add_argument("--no-sampling", action="store_true", help="the CPU accounting alone, without py-spy")
    parser.add_argument(
        "--warm-up", type=float, default=30.0, help="seconds of uncounted load first (default 30)"
    )
    args = parser.parse_args()
    with stack_and_sink() as (stack, sink):
        print(f"signup_profile: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
        warm_up = open_loop(stack.identity_url, args.rate, args.warm_up)
        print(f"  warm-up (not counted) {warm_up.describe()}", flush=True)
        print(f"accounting, {args.rate:.1f}/s for {args.seconds:.0f} s:", flush=True)
        account_cpu(stack, sink, args.rate, args.seconds)
        if not args.no_sampling:
            print(f"sampling with py-spy at {SAMPLING_HZ} Hz, {args.rate:.1f}/s for {args.seconds:.0f} s:")
            sample_frames(stack, sink, args.rate, args.seconds)


if __name__ == "__main__":
    main()
