"""Host ports for test servers."""

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A TCP port nothing listens on right now, and never handed out before by this process.

    bind(0) picks a free port at random, so two calls made before either server binds its port can
    return the same one (a sink's Mailpit and its fault handler, say): one in a few thousand calls
    among ~14,000 ports, often enough to fail a suite that starts hundreds of servers.
    """
    with _lock:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
