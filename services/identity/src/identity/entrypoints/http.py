"""What identity's views share: the request's client and token, the staff check, and documented
problem responses."""

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_smorest import Blueprint

from accounts_common.apidocs import BEARER_AUTH, staff_problems
from accounts_common.problems import Problem, document_problems
from accounts_common.roles import Role
from identity.bootstrap import Identity
from identity.service_layer import sessions, staff
from identity.service_layer.errors import Unauthenticated
from identity.service_layer.sessions import Principal

problems = document_problems
View = TypeVar("View", bound=Callable[..., Any])


def identity() -> Identity:
    """The Identity this app was built with."""
    return current_app.extensions["identity"]


def client_ip() -> str:
    """The caller's address (X-Forwarded-For is trusted only through IDENTITY_TRUSTED_PROXY_HOPS)."""
    return request.remote_addr or "unknown"


def bearer_token() -> str:
    """The access token of the Authorization header; Unauthenticated when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


@contextmanager
def uniform_duration() -> Iterator[None]:
    """Answer no sooner than IDENTITY_UNIFORM_RESPONSE_MS after starting the work inside."""
    # Resend and reset write a code and an event for a known email and nothing for an unknown one;
    # a floor above both keeps that difference (a millisecond or two) out of the response time.
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = started + identity().settings.uniform_response_ms / 1000 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)


def caller_first(check: Callable[[], Principal]) -> Callable[[View], View]:
    """Check the caller (`check`: token, role, second factor) before the body or query is read, so one
    who may not call the endpoint gets 401 or 403 whatever they sent, never a 422 about it. The view
    finds the caller in `g.principal`."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            g.principal = check()
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def caller() -> Principal:
    """The caller of the request's access token; Unauthenticated without a valid one."""
    return sessions.authenticate(identity(), bearer_token())


def signed_in(blp: Blueprint) -> Callable[[View], View]:
    """A view for any logged-in caller: the token checked first (caller_first), documented as
    bearer-authenticated."""

    def decorate(view: View) -> View:
        return caller_first(caller)(blp.doc(security=BEARER_AUTH)(view))

    return decorate


def staff_only(blp: Blueprint, role: Role) -> Callable[[View], View]:
    """A view for staff holding `role`, logged in with a second factor: checked first (caller_first),
    documented as bearer-authenticated with its 401 and 403."""
    document = problems(blp, staff_problems(role, revocations=False))

    def decorate(view: View) -> View:
        return caller_first(lambda: staff_member(role))(blp.doc(security=BEARER_AUTH)(document(view)))

    return decorate


def staff_member(role: Role) -> Principal:
    """The caller, when holding `role` and logged in with a second factor; a 401/403 Problem otherwise.
    identity reads the roles from its database, not the token: a revoked role stops counting at once."""
    principal = caller()
    if role.value not in staff.roles_of_account(identity(), principal.account.id):
        raise Problem(403, "role-required", f"This needs the {role.value} role.")
    if not principal.passed_second_factor:
        raise Problem(
            403,
            "second-factor-required",
            f"The {role.value} role counts only after logging in with a one-time code (TOTP).",
        )
    return principal
