"""Identity's Flask application; gunicorn runs `identity.entrypoints.app:create_app()`."""

from typing import Any

from flask import Flask, Response

from accounts_common.db import request_pool
from accounts_common.problems import install_refusals, problem_response
from accounts_common.process import configure_logging
from accounts_common.proxies import trust_proxy_hops
from accounts_common.web import create_database_app, document_field
from identity.bootstrap import Identity, bootstrap
from identity.entrypoints import api, jwks, resets_api, sessions_api, staff_api, support_api
from identity.entrypoints.schemas import PREPARED
from identity.migrations import IDENTITY_MIGRATIONS
from identity.service_layer.errors import (
    ChallengeExpired,
    CodeRejected,
    InvalidCredentials,
    InvalidResetToken,
    InvalidSecondFactor,
    LastAdmin,
    MfaRequired,
    NotVerified,
    RateLimited,
    StaffAccount,
    TotpAlreadyEnrolled,
    TotpNotStarted,
    Unauthenticated,
    UnknownAccount,
    WrongPassword,
)
from identity.settings import Settings

CODE_PROBLEMS = {
    "invalid-code": "The code is not right. Check the email and try again.",
    "code-expired": "The code has expired. Ask for a new code.",
    "code-locked": "Too many wrong attempts for this code. Ask for a new code.",
}
EMAIL_CODES_LOCKED = (
    "Too many wrong codes for this email today: no code works until code entry opens again "
    "(Retry-After, `retry_after` seconds). Try again then."
)


def create_app(identity: Identity | None = None, config: dict[str, Any] | None = None) -> Flask:
    """Build the app; tests pass their own `Identity`, gunicorn workers build one after forking."""
    configure_logging()
    if identity is None:
        settings = Settings.load()
        identity = bootstrap(settings, pool=request_pool(settings, name="identity"))
    app = create_database_app(
        "identity",
        blueprints=[api.blp, sessions_api.blp, resets_api.blp, staff_api.blp, support_api.blp, jwks.blp],
        pool=identity.pool,
        migrations=IDENTITY_MIGRATIONS,
        max_body_bytes=identity.settings.max_body_bytes,
        config=config,
    )
    app.extensions["identity"] = identity
    trust_proxy_hops(app, identity.settings.trusted_proxy_hops)
    install_refusal_handlers(app)
    document_password_policy(app, identity)
    return app


def document_password_policy(app: Flask, identity: Identity) -> None:
    """State the configured policy's rules in the document, on each field that sets a password."""
    policy = identity.policy
    rules = (
        "spaces allowed."
        if policy.allow_spaces
        else "no spaces; upper and lower case letters, digits and symbols."
    )
    description = f"{policy.min_length} to {policy.max_length} characters, counted in NFC; {rules} {PREPARED}"
    for schema, field in (("Registration", "password"), ("ResetCompletion", "new_password")):
        document_field(app, schema, field, pattern=policy.pattern(), description=description)


# What the use cases refuse with a fixed answer: (status, slug, detail).
REFUSALS: dict[type[Exception], tuple[int, str, str | None]] = {
    InvalidCredentials: (401, "invalid-credentials", "The email or password is not right."),
    NotVerified: (403, "account-not-verified", "Verify your email with the code we sent before logging in."),
    InvalidResetToken: (400, "invalid-reset-token", "The reset link is no longer valid. Start again."),
    WrongPassword: (403, "wrong-password", "The password is not right."),
    ChallengeExpired: (
        401,
        "challenge-expired",
        "This login has expired or is not valid: log in again with your email and password.",
    ),
    InvalidSecondFactor: (401, "invalid-second-factor", "The one-time code is not right."),
    TotpAlreadyEnrolled: (409, "totp-already-enrolled", "This account already has a second factor."),
    TotpNotStarted: (409, "totp-not-started", "Ask for a secret first (POST /v1/accounts/me/totp)."),
    UnknownAccount: (404, "unknown-account", "No such account (roles need a verified one)."),
    StaffAccount: (
        409,
        "staff-account",
        "This account holds staff roles: an admin revokes them before it is erased.",
    ),
    LastAdmin: (
        409,
        "last-admin",
        "This is the only admin: grant the admin role to someone else first.",
    ),
}


def install_refusal_handlers(app: Flask) -> None:
    """Turn what the use cases refuse into problem responses."""
    install_refusals(app, REFUSALS)
    app.register_error_handler(RateLimited, _rate_limited)
    app.register_error_handler(CodeRejected, _code_rejected)
    app.register_error_handler(Unauthenticated, _unauthenticated)
    app.register_error_handler(MfaRequired, _mfa_required)


def _rate_limited(error: RateLimited) -> Response:
    return problem_response(
        429,
        slug="rate-limited",
        detail="Too many requests. Try again later.",
        headers={"Retry-After": str(error.retry_after_s)},
    )


def _code_rejected(error: CodeRejected) -> Response:
    slug = error.outcome.value
    if error.retry_after_s is None:
        return problem_response(400, slug=slug, detail=CODE_PROBLEMS[slug])
    return problem_response(
        400,
        slug=slug,
        detail=EMAIL_CODES_LOCKED,
        headers={"Retry-After": str(error.retry_after_s)},
        members={"retry_after": error.retry_after_s},
    )


def _mfa_required(error: MfaRequired) -> Response:
    return problem_response(
        401,
        slug="mfa-required",
        detail="This account has a second factor: send its code as `totp`, with `challenge` "
        "(or with the email and password).",
        members={"challenge": error.challenge},
    )


def _unauthenticated(_error: Unauthenticated) -> Response:
    return problem_response(
        401,
        slug="invalid-token",
        detail="A valid access token is required.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
