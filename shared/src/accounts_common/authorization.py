"""The check every operator endpoint makes: a staff role from the verified access token, counted only
when the token was issued after a second factor (`amr` holds "otp", RFC 8176)."""

import functools
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urljoin

from flask import current_app, g, request

from accounts_common.auth import SESSION_ENDED, Principal, authenticate_request
from accounts_common.problems import Problem
from accounts_common.roles import SECOND_FACTOR, Role

View = TypeVar("View", bound=Callable[..., Any])
log = logging.getLogger(__name__)


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
        raise _role_required(role)
    if SECOND_FACTOR not in principal.amr:
        raise Problem(
            403,
            "second-factor-required",
            f"The {role.value} role counts only after logging in with a one-time code (TOTP).",
        )


# identity's account of a token's holder, at the origin of the key set the services read.
IDENTITY_ACCOUNT_PATH = "/v1/accounts/me"
IDENTITY_ANSWER_TIMEOUT_S = 5


def confirm_role_with_identity(role: Role) -> None:
    """For an act no one can take back (an issue going to every subscriber): ask identity itself whether
    the request's token still holds `role`. This service's revocations are as current as the last event
    it read: a role revoked a moment ago, or while its consumer is held up, would still pass. 403
    token-revoked when identity no longer accepts the token (a role change ends the sessions),
    role-required when the account no longer holds the role; 503 identity-unavailable when identity
    cannot be asked."""
    jwks_url = current_app.extensions["token_verifier"].keys.url
    asked = urllib.request.Request(
        urljoin(jwks_url, IDENTITY_ACCOUNT_PATH),
        headers={"Authorization": request.headers["Authorization"], "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(asked, timeout=IDENTITY_ANSWER_TIMEOUT_S) as answer:
            roles = json.load(answer).get("roles") or []
    except urllib.error.HTTPError as refused:
        if refused.code == 401:
            raise Problem(403, "token-revoked", SESSION_ENDED) from None
        raise _identity_unavailable(f"HTTP {refused.code}") from None
    except (OSError, ValueError, AttributeError) as error:
        raise _identity_unavailable(repr(error)) from None
    if role.value not in roles:
        raise _role_required(role)


def _role_required(role: Role) -> Problem:
    return Problem(403, "role-required", f"This needs the {role.value} role.")


def _identity_unavailable(reason: str) -> Problem:
    log.warning("identity could not confirm a role: %s", reason)
    return Problem(
        503,
        "identity-unavailable",
        "Your role cannot be confirmed with identity right now. Try again in a moment.",
        headers={"Retry-After": "5"},
    )
