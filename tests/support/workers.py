"""Running a service's worker loop (a relay's or a consumer's `run(stop)`) inside a test."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def running(
    work: Callable[[threading.Event], None], join_timeout_s: float = 15
) -> Iterator[threading.Thread]:
    """Run `work(stop)` in a daemon thread for the block (the thread, to check it is alive); then set
    `stop` and wait for the loop to end."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(join_timeout_s)


@contextmanager
def stopped_after(seconds: float) -> Iterator[threading.Event]:
    """A `stop` for a loop the test runs in its own thread, set after `seconds`: a loop that should
    end by itself (raising, say) but runs on is stopped, and the test fails instead of hanging."""
    stop = threading.Event()
    deadline = threading.Timer(seconds, stop.set)
    deadline.start()
    try:
        yield stop
    finally:
        deadline.cancel()
