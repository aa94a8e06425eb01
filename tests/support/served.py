"""A Flask app served on a real local port, for clients that need HTTP (a JWKS fetch)."""

import functools
import threading

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
