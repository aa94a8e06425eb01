"""A Flask app served on a real local port, for clients that need HTTP (a JWKS fetch)."""

import threading

from flask import Flask
from werkzeug.serving import make_server


class ServedIdentity:
    """identity's app on a real local port; `app` can be swapped (a key rollover)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.jwks_url = f"http://127.0.0.1:{self._server.server_port}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _dispatch(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
