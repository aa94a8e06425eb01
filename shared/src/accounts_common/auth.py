"""Checking identity's access tokens in any service: the signature against identity's JWKS (cached),
then the revocations this service learnt from PasswordReset, AccountDeleted and SessionRevoked events."""

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

import jwt
import psycopg
from flask import Flask, current_app, g, request
from psycopg_pool import ConnectionPool

from accounts_common.account_projection import is_revoked, lock_account
from accounts_common.problems import Problem

ISSUER = "identity"
ALGORITHMS = ["EdDSA", "RS256"]
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
View = TypeVar("View", bound=Callable[..., Any])
SESSION_ENDED = "This session has ended. Log in again."


@dataclass(frozen=True)
class Principal:
    """Who a verified access token speaks for."""

    account_id: UUID
    email: str
    email_verified: bool
    issued_at: datetime
    token_id: str
    roles: tuple[str, ...] = ()  # staff roles; they count only with "otp" in `amr` (accounts_common.roles)
    amr: tuple[str, ...] = ()  # how the person authenticated (RFC 8176): "pwd", "otp"
    locale: str | None = None  # the account's language when the token was issued


class KeySetUnavailable(Exception):
    """identity's JWKS could not be fetched, so no token can be checked right now."""


class JwksCache:
    """identity's public keys by kid, refetched when stale or (once per cooldown) for an unknown kid.

    Why 30 s and not longer: a retired key (`identity rotate-key`) must stop verifying everywhere
    promptly, and polling a small document twice a minute per process is cheaper than an event
    type, a topic and a projection for something that happens a few times a year. When identity
    cannot be reached, the last set read keeps serving for `stale_if_error_s`, so a short identity
    outage does not turn every token check into a 503.
    """

    def __init__(
        self,
        url: str,
        *,
        max_age_s: float = 30,
        refresh_cooldown_s: float = 10,
        stale_if_error_s: float = 300,
        timeout_s: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.max_age_s = max_age_s
        # At most one fetch per cooldown for unknown kids: made-up kids must not make every request a fetch.
        self.refresh_cooldown_s = refresh_cooldown_s
        self.stale_if_error_s = stale_if_error_s
        self.timeout_s = timeout_s
        self.clock = clock
        # PyJWT's client fetches and parses; when to fetch, and serving stale keys while identity is
        # down, stay ours: PyJWKClient's own cache has no stale-if-error.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=timeout_s)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = self._tried_at = -float("inf")
        self._failure = f"cannot read {url}"  # the last fetch's failure, for the checks that do not try
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The public key with that kid, fetching the set when stale or when the kid is new."""
        with self._lock:
            now = self.clock()
            if self._wants_refresh(kid, now):
                self._refresh(now)
            elif self._expired(now):
                raise KeySetUnavailable(f"{self._failure}; tried again within {self.refresh_cooldown_s:g} s")
            return self._keys.get(kid)

    def _expired(self, now: float) -> bool:
        return now - self._fetched_at > self.stale_if_error_s

    def _wants_refresh(self, kid: str, now: float) -> bool:
        since_try = now - self._tried_at
        if self._expired(now):
            # Nothing usable is left: one try per cooldown, the checks between answer 503 at once
            # rather than each waiting out a fetch of its own (identity met one per request, too).
            return since_try > self.refresh_cooldown_s
        return since_try > self.max_age_s or (kid not in self._keys and since_try > self.refresh_cooldown_s)

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        try:
            self._keys, self._fetched_at = self._fetch(), now
        except KeySetUnavailable as error:
            self._failure = str(error)
            if self._expired(now):
                raise

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        """The set as identity serves it now, by kid; keys of a kind we cannot use are left out."""
        try:
            key_set = self._client.get_jwk_set(refresh=True)
        # PyJWKClientError (connection, not a JSON object), PyJWKSetError; and what PyJWT lets through:
        # a body that is not JSON (ValueError), a connection reset while reading it (OSError).
        except (jwt.PyJWTError, ValueError, OSError) as error:
            raise KeySetUnavailable(f"cannot read {self.url}: {error}") from None
        return {key.key_id: key for key in key_set.keys if key.key_id}


class TokenVerifier:
    """Verifies bearer tokens: signature, issuer, expiry, then (with a pool) the revocation projection."""

    def __init__(
        self,
        jwks_url: str,
        *,
        pool: ConnectionPool | None = None,
        issuer: str = ISSUER,
        leeway_s: float = 30,
        max_age_s: float = 30,
        refresh_cooldown_s: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = JwksCache(
            jwks_url, max_age_s=max_age_s, refresh_cooldown_s=refresh_cooldown_s, clock=clock
        )
        self.pool, self.issuer, self.leeway_s = pool, issuer, leeway_s

    def verify(self, token: str) -> Principal:
        """The token's principal; Problem 401 (invalid), 403 (revoked) or 503 (keys unreachable)."""
        principal = self._decode(token)
        if self.pool is not None:
            with self.pool.connection() as conn:
                if is_revoked(conn, principal.account_id, principal.issued_at, principal.token_id):
                    raise Problem(403, "token-revoked", SESSION_ENDED)
        return principal

    def _decode(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise jwt.InvalidTokenError("signed with an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["sub", "iat", "exp", "jti"]},
            )
            return Principal(
                account_id=UUID(claims["sub"]),
                email=str(claims.get("email", "")),
                email_verified=claims.get("email_verified") is True,
                issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
                token_id=str(claims["jti"]),
                roles=_strings(claims.get("roles")),
                amr=_strings(claims.get("amr")),
                locale=claims["locale"] if isinstance(claims.get("locale"), str) else None,
            )
        except KeySetUnavailable:
            raise Problem(503, "token-check-unavailable", "Tokens cannot be checked right now.") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Problem(
                401, "invalid-token", "A valid access token is required.", headers=CHALLENGE
            ) from None


def _strings(claim: object) -> tuple[str, ...]:
    """A list-of-strings claim as a tuple; anything else as empty (a role is never guessed)."""
    if not isinstance(claim, list):
        return ()
    return tuple(item for item in claim if isinstance(item, str))


def install_token_verifier(app: Flask, verifier: TokenVerifier) -> None:
    """Make `require_bearer` views of this app check tokens with `verifier`."""
    app.extensions["token_verifier"] = verifier


def require_bearer(*, verified: bool = True) -> Callable[[View], View]:
    """Decorate a view: 401 without a valid token, 403 when revoked or (if `verified`) unverified."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            g.principal = authenticate_request(verified=verified)
            return view(*args, **kwargs)

        return cast(View, checked)

    return decorate


def authenticate_request(*, verified: bool = True) -> Principal:
    """The principal of the current request's bearer token (see `require_bearer`)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "missing-token", "Log in: this needs an access token.", headers=CHALLENGE)
    principal = current_app.extensions["token_verifier"].verify(token.strip())
    if verified and not principal.email_verified:
        raise Problem(403, "account-not-verified", "Verify your email address first.")
    return principal


def current_principal() -> Principal:
    """The principal `require_bearer` checked for this request."""
    return g.principal


def act_for(conn: psycopg.Connection, principal: Principal) -> None:
    """Before the caller's transaction writes in the principal's name (a download link): take the
    account's lock, as the handlers of its revocations do (account_projection.lock_account), and
    refuse (403) a token revoked since the request's check, which read the revocations before this
    transaction. A PasswordReset applied in between would not see what this one writes, and would
    leave it to the dead token."""
    lock_account(conn, principal.account_id)
    if is_revoked(conn, principal.account_id, principal.issued_at, principal.token_id):
        raise Problem(403, "token-revoked", SESSION_ENDED)
