"""The newsletter's HTTP API, as the portal uses it (DESIGN §3)."""

from portal.adapters.http import JsonApi


class NewsletterClient:
    """The signed-in account's subscription."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def subscribed(self, token: str) -> bool:
        return bool(self.api.call("GET", "/v1/subscriptions/me", token=token)["subscribed"])

    def subscribe(self, token: str) -> None:
        self.api.call("POST", "/v1/subscriptions", {}, token=token)

    def unsubscribe(self, token: str) -> None:
        self.api.call("DELETE", "/v1/subscriptions/me", token=token)
