"""Password hashing at a lower CPU priority than the rest of the service's work."""

import base64
import hmac
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, extract_parameters
from argon2.low_level import hash_secret

log = logging.getLogger(__name__)
T = TypeVar("T")


class BackgroundHasher:
    """argon2id hashes and checks on threads whose nice value is raised by `nice` (Linux sets it per
    thread): a hash is ~20 ms of CPU where the rest of a signup's work, here and in the relay, Kafka
    and the mailer, comes in pieces of a millisecond or two. On cores they share, those pieces run
    as soon as they are ready instead of waiting behind hashes, and the hashes still get every cycle
    nothing else wants. argon2 releases the GIL while it hashes. With `nice` 0, hashing stays on the
    request's thread."""

    def __init__(self, hasher: PasswordHasher, nice: int) -> None:
        self.hasher = hasher
        self._threads = None
        if nice:
            self._threads = ThreadPoolExecutor(
                os.cpu_count() or 1, "argon2", initializer=_lower_priority, initargs=(nice,)
            )

    def hash(self, password: str) -> str:
        return self._run(self.hasher.hash, password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True, or argon2's VerifyMismatchError (or another VerificationError) raised."""
        return self._run(self.hasher.verify, password_hash, password)

    def hash_like(self, password_hash: str, password: str) -> str:
        """The password hashed with the salt and parameters of `password_hash`: one argon2 run whose
        result can be compared with several hashes made with that salt (`same_hash`)."""
        return self._run(_hash_with_salt_of, password_hash, password)

    def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._threads is None:
            return work(*args)
        return self._threads.submit(work, *args).result()

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def same_hash(one: str, other: str | None) -> bool:
    """Two encoded hashes are the same, compared in constant time."""
    return other is not None and hmac.compare_digest(one.encode(), other.encode())


def _hash_with_salt_of(password_hash: str, password: str) -> str:
    parameters = extract_parameters(password_hash)
    salt = password_hash.split("$")[-2]
    return hash_secret(
        password.encode(),
        base64.b64decode(salt + "=" * (-len(salt) % 4)),
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_cost,
        parallelism=parameters.parallelism,
        hash_len=parameters.hash_len,
        type=parameters.type,
        version=parameters.version,
    ).decode()


def _lower_priority(nice: int) -> None:
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError as error:
        log.warning("password hashing keeps its CPU priority: %s", error)
