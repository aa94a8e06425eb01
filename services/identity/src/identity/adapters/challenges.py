"""Login challenges: what a right password earns an account with a second factor, to send back with its
code instead of the password. A JWT signed with the access tokens' keys (so rotation and the key ring
serve both), which can never pass for an access token: its own `typ` and audience, and no `jti`."""

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
import psycopg

from identity.adapters.tokens import ALGORITHM, ISSUER, InvalidToken, TokenIssuer

CHALLENGE_TYPE = "mfa-challenge+jwt"
AUDIENCE = "identity/login-challenge"
TTL = timedelta(minutes=5)


class InvalidChallenge(Exception):
    """Not a challenge of ours, or an expired one; the message says why."""


@dataclass(frozen=True)
class Challenged:
    account_id: uuid.UUID
    password_fingerprint: str


def password_fingerprint(password_changed_at: datetime) -> str:
    """What binds a challenge to the password it was earned with: when that password was set. Every new
    password sets it anew, a reset to the same one too; renewing its hash for new argon2 parameters
    does not (another login may do so while this challenge waits for its code)."""
    digest = hashlib.sha256(password_changed_at.isoformat().encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(
    tokens: TokenIssuer, conn: psycopg.Connection, account_id: uuid.UUID, fingerprint: str, now: datetime
) -> str:
    """A challenge for the account (its `password_fingerprint`), good for five minutes from `now`
    (identity's clock)."""
    key = tokens.keys.active_keys(conn)[0]
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(account_id),
        "iat": int(now.timestamp()),
        "exp": int((now + TTL).timestamp()),
        "pwf": fingerprint,
    }
    headers = {"kid": key.kid, "typ": CHALLENGE_TYPE}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)


def check(tokens: TokenIssuer, conn: psycopg.Connection, challenge: str, now: datetime) -> Challenged:
    """Whose challenge this is, when it is ours and not expired at `now`; InvalidChallenge if not."""
    try:
        header = jwt.get_unverified_header(challenge)
        if header.get("typ") != CHALLENGE_TYPE:
            raise InvalidChallenge("not a login challenge")
        claims = jwt.decode(
            challenge,
            tokens.key_for(conn, header.get("kid")).private_key.public_key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=AUDIENCE,
            # Expiry is judged on identity's clock, the one the TOTP steps and the limits use.
            options={"require": ["sub", "exp", "pwf"], "verify_exp": False, "verify_iat": False},
        )
        if int(claims["exp"]) <= now.timestamp():
            raise InvalidChallenge("expired")
        return Challenged(uuid.UUID(claims["sub"]), str(claims["pwf"]))
    except (jwt.PyJWTError, InvalidToken, ValueError, TypeError) as error:
        raise InvalidChallenge(str(error)) from None
