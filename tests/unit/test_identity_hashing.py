"""Password hashing runs on threads of lower CPU priority, and gives the same answers (Linux)."""

import os
import threading

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from identity.adapters.hashing import BackgroundHasher


def thread_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class RecordsItsPriority(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.nice_seen: list[int] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.nice_seen.append(thread_nice())
        return super().hash(password, salt=salt)


def test_hashes_run_at_a_lower_priority_than_the_callers_thread():
    inner = RecordsItsPriority()
    hasher = BackgroundHasher(inner, nice=5)
    callers = thread_nice()

    password_hash = hasher.hash("Correct-Horse-9!")

    assert inner.nice_seen == [min(19, callers + 5)]
    assert thread_nice() == callers, "the request's own thread keeps its priority"
    assert hasher.verify(password_hash, "Correct-Horse-9!")
    with pytest.raises(VerifyMismatchError):
        hasher.verify(password_hash, "wrong")


def test_with_nice_zero_hashing_stays_on_the_callers_thread():
    inner = RecordsItsPriority()
    hasher = BackgroundHasher(inner, nice=0)
    callers = threading.get_native_id()
    seen_on = []
    inner.hash = lambda password, salt=None: seen_on.append(threading.get_native_id()) or "x"  # type: ignore[method-assign]

    hasher.hash("Correct-Horse-9!")

    assert seen_on == [callers]
