"""Composition root: builds the newsletter's collaborators once per process (after gunicorn forks)."""

from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from accounts_common.auth import TokenVerifier
from accounts_common.db import create_pool
from newsletter.settings import Settings


@dataclass(frozen=True)
class Newsletter:
    """What the use cases need: the settings and the database pool."""

    settings: Settings
    pool: ConnectionPool

    def topic(self, name: str) -> str:
        """The topic this deployment uses for a topic of the contract (NEWSLETTER_TOPIC_PREFIX)."""
        return self.settings.topic_prefix + name


def bootstrap(settings: Settings | None = None, *, pool: ConnectionPool | None = None) -> Newsletter:
    """Wire the newsletter from settings (the environment when none are given)."""
    settings = settings or Settings.load()
    return Newsletter(
        settings=settings,
        pool=pool if pool is not None else create_pool(settings.database_url, name="newsletter"),
    )


def token_verifier(newsletter: Newsletter) -> TokenVerifier:
    """Checks identity's access tokens against its JWKS and this service's revocation projection."""
    return TokenVerifier(newsletter.settings.jwks_url, pool=newsletter.pool)
