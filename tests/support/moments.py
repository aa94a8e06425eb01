"""Reading while another connection commits change after change: a read that answers one moment of
the database only ever answers one of the states the changes go through."""

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

READS = 2000  # enough for a read of two statements to straddle a commit, every run (0701655a)


def answers_while(change: Callable[[], None], read: Callable[[], T], reads: int = READS) -> set[T]:
    """What `read` answered, `reads` times, while a thread made `change` again and again."""
    done = threading.Event()

    def change_again_and_again() -> None:
        while not done.is_set():
            change()

    writer = threading.Thread(target=change_again_and_again)
    writer.start()
    try:
        return {read() for _ in range(reads)}
    finally:
        done.set()
        writer.join()
