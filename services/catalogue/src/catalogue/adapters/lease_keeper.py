"""A lease kept alive from a thread of its own: the transcoder's job lease is renewed whatever the job is
doing (downloading the master, taking stills, hashing, storing), not only when ffmpeg reports progress."""

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Calls `renew` every `interval_s` seconds while the context lasts; `lost` is set, and the renewals
    stop, once `renew` answers False (another worker holds the lease). A renewal that fails (the
    database unreachable) is tried again at the next beat: the lease may still be ours."""

    def __init__(self, renew: Callable[[], bool], interval_s: float) -> None:
        self.renew, self.interval_s = renew, interval_s
        self.lost = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-keeper", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._ended.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._ended.wait(self.interval_s):
            try:
                held = self.renew()
            except Exception:
                log.warning("could not renew a lease; trying again", exc_info=True)
                continue
            if not held:
                self.lost.set()
                return
