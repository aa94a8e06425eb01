"""Cache-Control on API answers: nobody keeps them (`no-store`) unless a view says otherwise."""

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, after_this_request, request

NO_STORE = "no-store"
JSON_TYPES = ("application/json", "application/problem+json")


def install_cache_control(app: Flask) -> None:
    """JSON answers are personal or change at once (tokens, codes, accounts, errors): `no-store` unless
    the view says otherwise. Files, images and pages keep what their views set."""

    @app.after_request
    def _default_no_store(response: Response) -> Response:
        if response.mimetype in JSON_TYPES:
            response.headers.setdefault("Cache-Control", NO_STORE)
        return response


def public_for(max_age_s: int) -> Callable[[Any], Any]:
    """Let browsers and shared caches keep this view's anonymous 200 answers for `max_age_s`;
    an answer to a request with credentials stays `no-store`, and `Vary` says so to caches."""

    def decorate(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            anonymous = "Authorization" not in request.headers

            @after_this_request
            def _mark(response: Response) -> Response:
                response.vary.add("Authorization")
                if anonymous and response.status_code == 200:
                    response.headers["Cache-Control"] = f"public, max-age={max_age_s}"
                return response

            return view(*args, **kwargs)

        return wrapper

    return decorate
