"""The check every operator endpoint makes: a staff role from the verified access token, counted only
when the token was issued after a second factor (`amr` holds "otp", RFC 8176)."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g

from accounts_common.auth import Principal, authenticate_request
from accounts_common.problems import Problem
from accounts_common.roles import SECOND_FACTOR, Role

View = TypeVar("View", bound=Callable[..., Any])


def require_role(role: Role) -> Callable[[View], View]:
    """Decorate an operator view: 401 without a valid token, 403 without the role or without MFA."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            authorize_role(role)
            return view(*args, **kwargs)

        return cast(View, checked)

    return decorate


def authorize_role(role: Role) -> Principal:
    """The principal of the current request when it may act as `role` (see `require_role`); also a
    blueprint's `before_request`, so a refusal comes before the body is even validated."""
    principal = authenticate_request(verified=True)
    check_role(principal, role)
    g.principal = principal
    return principal


def check_role(principal: Principal, role: Role) -> None:
    """Return when the principal may act as `role`; a 403 Problem saying why otherwise."""
    if role.value not in principal.roles:
        raise Problem(403, "role-required", f"This needs the {role.value} role.")
    if SECOND_FACTOR not in principal.amr:
        raise Problem(
            403,
            "second-factor-required",
            f"The {role.value} role counts only after logging in with a one-time code (TOTP).",
        )
