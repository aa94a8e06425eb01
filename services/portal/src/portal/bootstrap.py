"""Composition root of the portal: the clients of the services it shows."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from portal.adapters.catalogue import CatalogueClient, EditorClient
from portal.adapters.console import MailerClient, StaffClient
from portal.adapters.http import JsonApi
from portal.adapters.identity import IdentityClient
from portal.adapters.newsletter import IssuesClient, NewsletterClient
from portal.adapters.uploads import TusForwarder
from portal.settings import Settings

# A tus chunk (the page sends 8 MiB at a time) may take longer than an API call to pass on.
UPLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Portal:
    """What the pages talk to."""

    settings: Settings
    identity: IdentityClient
    catalogue: CatalogueClient
    editor: EditorClient
    uploads: TusForwarder
    newsletter: NewsletterClient
    issues: IssuesClient
    staff: StaffClient
    mailer: MailerClient


def bootstrap(settings: Settings, forwarded_for: Callable[[], Mapping[str, str]] = dict) -> Portal:
    """Wire the clients; `forwarded_for` gives identity the visitor's address (its per-IP limits)."""

    def api(service: str, url: str, extra: Callable[[], Mapping[str, str]] = dict) -> JsonApi:
        return JsonApi(service, url, timeout=settings.api_timeout_s, extra_headers=extra)

    return Portal(
        settings=settings,
        identity=IdentityClient(api("identity", settings.identity_url, forwarded_for)),
        catalogue=CatalogueClient(api("catalogue", settings.catalogue_url)),
        editor=EditorClient(api("catalogue", settings.catalogue_url)),
        uploads=TusForwarder(settings.catalogue_url, timeout=UPLOAD_TIMEOUT_S),
        newsletter=NewsletterClient(api("newsletter", settings.newsletter_url)),
        issues=IssuesClient(api("newsletter", settings.newsletter_url)),
        staff=StaffClient(api("identity", settings.identity_url, forwarded_for)),
        mailer=MailerClient(api("mailer", settings.mailer_url)),
    )
