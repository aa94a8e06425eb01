"""The client's address behind reverse proxies (nginx in `make run`, compose and the Kubernetes edge)."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxy_hops(app: Flask, hops: int) -> None:
    """Take `request.remote_addr` from X-Forwarded-For, trusting only the last `hops` entries (the
    proxies' own): anything a client writes into the header before them is ignored."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
