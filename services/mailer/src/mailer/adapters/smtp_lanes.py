"""SMTP lanes: one thread per SMTP connection, each sending one sender key's emails at a time.

A lane takes the next key with emails waiting and sends that key's emails in their order, so one
account's emails never go out on two connections at once and no lane idles while another has a
queue. A lane has at most UNMARKED_PER_LANE emails accepted and not yet done (marked sent by the
caller): the bound of the duplicate window should the worker die.
"""

import collections
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from typing import Generic, Protocol, TypeVar

from mailer.domain.messages import OutgoingEmail

# A lane sends its next email while the one before is being marked, never further ahead.
UNMARKED_PER_LANE = 2


class Sender(Protocol):
    def send(self, email: OutgoingEmail) -> None: ...

    def close(self) -> None: ...


class Queued(Protocol):
    @property
    def sender_key(self) -> str: ...

    @property
    def future(self) -> Future[None]: ...


Email = TypeVar("Email", bound=Queued)


class Lanes(Generic[Email]):
    """Hands queued emails to `deliver(sender, email)`, which returns True once the server accepted
    the email; its Future ends when the caller has recorded it."""

    def __init__(self, senders: Sequence[Sender], deliver: Callable[[Sender, Email], bool]) -> None:
        if not senders:
            raise ValueError("the dispatcher needs at least one SMTP connection")
        self.senders = list(senders)
        self._deliver = deliver
        # The emails waiting, per sender key; a key is here while a lane owns it.
        self._waiting: dict[str, collections.deque[Email]] = {}
        self._waiting_lock = threading.Lock()
        self._ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # keys without a lane
        self._threads = [
            threading.Thread(target=self._run, args=(sender,), name=f"smtp-lane-{n}", daemon=True)
            for n, sender in enumerate(self.senders)
        ]
        for thread in self._threads:
            thread.start()

    def queue(self, email: Email) -> None:
        """Behind its key's emails waiting, else for the next free lane."""
        key = email.sender_key
        with self._waiting_lock:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.append(email)
                return
            self._waiting[key] = collections.deque([email])
        self._ready.put(key)

    def close(self) -> None:
        """Stop the lanes once their queues are empty and say QUIT on every connection."""
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join()
        for sender in self.senders:
            sender.close()

    def _next_of(self, key: str) -> Email | None:
        """The key's next email, or None, the key given up, once it has no more."""
        with self._waiting_lock:
            waiting = self._waiting[key]
            if waiting:
                return waiting.popleft()
            del self._waiting[key]
            return None

    def _run(self, sender: Sender) -> None:
        """Send the emails of one key after another until `close`."""
        unmarked: collections.deque[Email] = collections.deque()
        while (key := self._ready.get()) is not None:
            while (email := self._next_of(key)) is not None:
                while len(unmarked) >= UNMARKED_PER_LANE:
                    wait([unmarked.popleft().future])
                if self._deliver(sender, email):
                    unmarked.append(email)
