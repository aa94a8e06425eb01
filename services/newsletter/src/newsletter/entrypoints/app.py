"""The newsletter's Flask application factory: gunicorn runs `newsletter.entrypoints.app:create_app()`."""

from typing import Any

from flask import Flask

from accounts_common.auth import TokenVerifier, install_token_verifier
from accounts_common.db import request_pool
from accounts_common.problems import install_refusals
from accounts_common.process import configure_logging
from accounts_common.web import create_database_app
from newsletter.bootstrap import Newsletter, bootstrap, token_verifier
from newsletter.entrypoints import api, unsubscribe
from newsletter.migrations import NEWSLETTER_MIGRATIONS
from newsletter.service_layer import issues
from newsletter.service_layer.subscriptions import AccountErased
from newsletter.settings import Settings

# What the use cases refuse: (status, slug, detail); None takes the refusal's own words.
REFUSALS: dict[type[Exception], tuple[int, str, str | None]] = {
    issues.IssueNotFound: (404, "issue-not-found", "There is no issue with this id."),
    issues.WrongStatus: (409, "issue-status", None),
    issues.IssueChanged: (
        409,
        "issue-changed",
        "The issue was edited since the copy you read: read it again before sending or saving it.",
    ),
    issues.IssueIncomplete: (
        422,
        "issue-incomplete",
        "Every subscriber gets the issue in their language: write its subject and body in each.",
    ),
    issues.SendTimePassed: (
        422,
        "send-at-past",
        "send_at is more than two minutes past: leave it out to send now, or give a later time.",
    ),
    issues.IssueTooLarge: (
        413,
        "issue-too-large",
        "The issue is too large for one delivery record: shorten it.",
    ),
    AccountErased: (403, "account-deleted", "This account was deleted."),
}


def create_app(
    newsletter: Newsletter | None = None,
    verifier: TokenVerifier | None = None,
    config: dict[str, Any] | None = None,
) -> Flask:
    """Build the app; tests pass their own Newsletter, gunicorn workers build one after forking."""
    configure_logging()
    if newsletter is None:
        settings = Settings.load()
        newsletter = bootstrap(settings, pool=request_pool(settings, name="newsletter"))
    app = create_database_app(
        "newsletter",
        blueprints=[api.subscriptions_blp, api.issues_blp, unsubscribe.blp],
        pool=newsletter.pool,
        migrations=NEWSLETTER_MIGRATIONS,
        max_body_bytes=newsletter.settings.max_body_bytes,
        config=config,
    )
    app.extensions["newsletter"] = newsletter
    install_token_verifier(app, verifier or token_verifier(newsletter))
    install_refusals(app, REFUSALS)
    return app
