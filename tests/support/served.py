"""Servers on a real local port, for clients that need HTTP: a Flask app (a JWKS fetch), or a fake
written with http.server (Mailpit's API, a proxy's error page)."""

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

from flask import Flask
from werkzeug.serving import make_server

SHUTDOWN_POLL_S = 0.02


class ServedIdentity:
    """identity's app on a real local port; `app` can be swapped (a key rollover)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_port}/.well-known/jwks.json"
        # shutdown() waits for the loop's next poll: the default half second, paid by every test.
        serve = functools.partial(self._server.serve_forever, poll_interval=SHUTDOWN_POLL_S)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def _dispatch(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


Server = TypeVar("Server", bound=ThreadingHTTPServer)


class FakeHandler(BaseHTTPRequestHandler):
    """A fake server's request handler: `answer` sends a whole response; nothing is logged."""

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """`server` answering on a thread of its own until the block ends."""
    serve = functools.partial(server.serve_forever, poll_interval=SHUTDOWN_POLL_S)
    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
