"""A TCP relay in front of the S3 server that can hold an UploadPart mid-body: the store then has a part
on its way for as long as a test needs (S3Proxy's filesystem backend writes it to a temporary file
beside the parts), where a part sent over a fast link is there and gone in milliseconds."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.support.processes import free_port

PART_REQUEST = b"&partNumber="  # in an UploadPart's request line, after its uploadId
BODY_BEFORE_STALL = 256 * 1024


class StallingProxy:
    """Relays 127.0.0.1:`port` to `upstream`. While `stall_parts` is set, the next UploadPart is sent
    up to about BODY_BEFORE_STALL bytes, then held until `release` is set; `stalled` says it is held.
    `cut` ends it there instead: both connections closed, as when its sender dies."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self.stall_parts, self.stalled, self.release = threading.Event(), threading.Event(), threading.Event()
        self.cutting = False
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.cutting = True
        self.release.set()

    def close(self) -> None:
        self.release.set()
        self.listener.close()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream)
                threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
                threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_store: bool) -> None:
        since_part = -1  # bytes relayed since an UploadPart's request line, -1: none seen
        with suppress(OSError), source, target:
            while data := source.recv(65536):
                if to_store and self.stall_parts.is_set() and since_part < 0 and PART_REQUEST in data:
                    since_part = 0
                if since_part >= 0:
                    since_part += len(data)
                target.sendall(data)
                if since_part >= BODY_BEFORE_STALL:
                    since_part = -1
                    self.stall_parts.clear()
                    self.stalled.set()
                    self.release.wait()
                    if self.cutting:
                        return  # both sockets closed, no end of body sent
            target.shutdown(socket.SHUT_WR)


@contextmanager
def stalling_proxy(endpoint: str) -> Iterator[StallingProxy]:
    host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
    proxy = StallingProxy((host, int(port)))
    try:
        yield proxy
    finally:
        proxy.close()
