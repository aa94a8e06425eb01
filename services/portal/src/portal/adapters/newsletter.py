"""The newsletter's HTTP API, as the portal uses it (DESIGN §3, §10)."""

from typing import Any

from portal.adapters.http import ApiError, JsonApi

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
ISSUES_PER_PAGE = 50  # the console's list, a page


class NewsletterClient:
    """The signed-in account's subscription."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def subscribed(self, token: str) -> bool:
        return self.subscription(token)[0]

    def subscription(self, token: str) -> tuple[bool, str | None]:
        """Whether the account is subscribed; if not, why its last subscription ended (`bounce`: mail
        to its address bounced), else None."""
        body = self.api.call("GET", "/v1/subscriptions/me", token=token)
        return bool(body["subscribed"]), body.get("reason")

    def subscribe(self, token: str) -> None:
        self.api.call("POST", "/v1/subscriptions", {}, token=token)

    def unsubscribe(self, token: str) -> None:
        self.api.call("DELETE", "/v1/subscriptions/me", token=token)

    def link_is_genuine(self, link_token: str) -> bool:
        """Whether a mail's unsubscribe link names a subscriber (nothing changes)."""
        return self._link_call("GET", link_token, None)

    def unsubscribe_by_link(self, link_token: str) -> bool:
        """RFC 8058 one-click: unsubscribe the account the link names; False when it is not genuine."""
        return self._link_call("POST", link_token, ONE_CLICK)

    def _link_call(self, method: str, link_token: str, form: dict[str, str] | None) -> bool:
        try:
            self.api.call(method, "/v1/unsubscribe", query={"token": link_token}, form=form)
        except ApiError as error:
            if error.status == 400:
                return False
            raise
        return True


class IssuesClient:
    """The issues of newsletter editors (the console), with the editor's own token: the newsletter
    checks the role and audits every action."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    def list(self, token: str, page: int = 1) -> dict[str, Any]:
        """A page of the issues, newest first: {items, total, page, per_page}."""
        query = {"page": page, "per_page": ISSUES_PER_PAGE}
        return dict(self.api.call("GET", "/v1/issues", token=token, query=query))

    def get(self, token: str, issue_id: str) -> dict[str, Any]:
        return self.api.call("GET", f"/v1/issues/{issue_id}", token=token)

    def create(self, token: str, texts: dict[str, Any]) -> dict[str, Any]:
        return self.api.call("POST", "/v1/issues", texts, token=token)

    def update(self, token: str, issue_id: str, texts: dict[str, Any], read: str | None) -> dict[str, Any]:
        """Rewrite a draft's texts; only over the copy the editor `read` (its updated_at), when given."""
        body = {**texts, "updated_at": read} if read else texts
        return self.api.call("PUT", f"/v1/issues/{issue_id}", body, token=token)

    def preview(self, token: str, texts: dict[str, Any]) -> dict[str, Any]:
        """{en: {subject, html, text}, fr: …} for each language written."""
        return self.api.call("POST", "/v1/issues/preview", texts, token=token)

    def test(self, token: str, issue_id: str) -> dict[str, Any]:
        return self.api.call("POST", f"/v1/issues/{issue_id}/test", {}, token=token)

    def send(self, token: str, issue_id: str, send_at: str | None, read: str | None) -> dict[str, Any]:
        """Send now or at `send_at`; only the copy the editor `read` (its updated_at), when given."""
        body = {name: value for name, value in (("send_at", send_at), ("updated_at", read)) if value}
        return self.api.call("POST", f"/v1/issues/{issue_id}/send", body, token=token)

    def cancel(self, token: str, issue_id: str) -> dict[str, Any]:
        return self.api.call("POST", f"/v1/issues/{issue_id}/cancel", {}, token=token)
