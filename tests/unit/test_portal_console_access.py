"""Every console route (the portal's url_map: a new one is walked too) against every kind of visitor,
and every route that changes something without its form's CSRF token. The portal is one client of the
services, which check roles again: here, that it asks nothing of them on behalf of a visitor it refuses.

The services are fakes recording each call (and refusing it, a 404): only identity's `me` answers."""

import re
from typing import Any

import pytest
from werkzeug.routing import Rule

from accounts_common.roles import ROLES, Role
from portal.adapters.http import ApiError
from tests.unit.test_portal import UPLOAD, portal_client

SERVICES = ("catalogue", "editor", "uploads", "newsletter", "issues", "staff", "mailer")
# The role each console page needs: that of its module, and support for the console's own pages.
ROLE_OF_BLUEPRINT = {
    "console": Role.SUPPORT,
    "console_admin": Role.ADMIN,
    "console_newsletter": Role.NEWSLETTER_EDITOR,
    "console_videos": Role.CATALOGUE_EDITOR,
}
ANY_ROLE = {"console.home"}  # the console's first page: any staff role
VISITORS = ["anonymous", "plain account", *ROLES, "every role without a second factor"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Exempt from the form check: RFC 8058 one-click (mail clients post without a session; the link's
# signed token is the credential).
NO_FORM_CHECK = {"newsletter_link.one_click"}


class Recorder:
    """A service whose every call is recorded, then refused (404)."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"{self.name}.{method}")
            raise ApiError(404, "not-found")

        return call


class Identity(Recorder):
    """Identity answering `me` for a visitor with `roles` (with or without the second factor)."""

    def __init__(self, calls: list[str], roles: list[str], second_factor: bool) -> None:
        super().__init__("identity", calls)
        self.roles, self.second_factor = roles, second_factor

    def me(self, token: str) -> dict[str, Any]:
        return {"email": "a@example.org", "roles": self.roles, "second_factor": self.second_factor}


def portal_of(visitor: str) -> tuple[Any, list[str]]:
    """The portal (an app) whose identity answers `me` for `visitor`, and the services' calls. Built
    once per visitor: each route then gets a client of its own (its own session)."""
    calls: list[str] = []
    roles = {"anonymous": [], "plain account": [], "every role without a second factor": list(ROLES)}
    identity = Identity(calls, roles.get(visitor, [visitor]), visitor != "every role without a second factor")
    fakes = {name: Recorder(name, calls) for name in SERVICES}
    return portal_client(identity, config={"TESTING": False}, fakes=fakes).application, calls


def visit(portal: Any, visitor: str) -> Any:
    """A new client of `portal`, signed in as `visitor` (not signed in: anonymous)."""
    client = portal.test_client()
    if visitor != "anonymous":
        with client.session_transaction() as session:
            staff = visitor not in ("anonymous", "plain account")
            session.update(token="a-token", email="a@example.org", staff=staff)
    return client


def addresses(rule: Rule) -> list[str]:
    """The rule's path with an id in each parameter, once for each word of its `any(…)`, if any."""
    values = {name: UPLOAD for name in rule.arguments}
    words = [
        (name, converter.items) for name, converter in rule._converters.items() if hasattr(converter, "items")
    ]
    choices = [{**values, name: word} for name, items in words for word in sorted(items)] or [values]
    return [
        re.sub(r"<(?:[^>:]+:)?([^>]+)>", lambda match, v=v: v[match.group(1)], rule.rule) for v in choices
    ]


def routes(rules: list[Rule]) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of each rule, method and word of its `any(…)`."""
    return [
        (rule.endpoint, method, path)
        for rule in rules
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"})
        for path in addresses(rule)
    ]


ALL_RULES = [rule for rule in portal_of("anonymous")[0].url_map.iter_rules()]
CONSOLE = routes([rule for rule in ALL_RULES if rule.rule.startswith("/console")])
WRITING = [route for route in routes(ALL_RULES) if route[1] in WRITES and route[0] not in NO_FORM_CHECK]


def csrf_token(client: Any) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signup").text).group(1)  # type: ignore[union-attr]


def may_open(endpoint: str, visitor: str) -> bool:
    if visitor in ("anonymous", "plain account", "every role without a second factor"):
        return False
    return endpoint in ANY_ROLE or visitor == ROLE_OF_BLUEPRINT[endpoint.split(".")[0]].value


@pytest.mark.parametrize("visitor", VISITORS)
def test_each_console_route_opens_for_its_role_with_a_second_factor_and_asks_nothing_for_anyone_else(
    visitor,
):
    portal, calls = portal_of(visitor)
    wrong = {}
    for endpoint, method, path in CONSOLE:
        client = visit(portal, visitor)
        calls.clear()
        token = csrf_token(client)
        answer = client.open(path, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        to_login = answer.status_code in (302, 303) and "/login" in answer.headers.get("Location", "")
        if may_open(endpoint, visitor):
            ok = answer.status_code not in (401, 403) and not to_login
        elif visitor == "anonymous":  # to log in (a page's script is told its session ended)
            ok = (to_login or answer.status_code == 401) and calls == []
        else:
            second_factor_page = "Log in with your second factor" in answer.text
            ok = (
                answer.status_code == 403
                and calls == []
                and second_factor_page == visitor.startswith("every")
            )
        if not ok:
            wrong[f"{method} {path}"] = (answer.status_code, calls)
    assert len(CONSOLE) >= 25
    assert wrong == {}


def test_no_route_changes_anything_without_the_forms_csrf_token():
    """Each form (and each of the console's fetch() and tus requests) carries the session's token;
    without it, or with another session's, the portal refuses it before asking any service."""
    portals = {role: portal_of(role) for role in ROLES}
    other_session = csrf_token(visit(portals["admin"][0], "admin"))
    wrong = {}
    for endpoint, method, path in WRITING:
        for sent in ({}, {"csrf_token": other_session}):
            visitor = ROLE_OF_BLUEPRINT.get(endpoint.split(".")[0], Role.SUPPORT).value
            portal, calls = portals[visitor]
            client = visit(portal, visitor)
            calls.clear()
            answer = client.open(
                path, method=method, data=sent, headers={"X-CSRFToken": sent.get("csrf_token", "")}
            )
            if answer.status_code != 400 or [call for call in calls if call != "identity.me"]:
                wrong[f"{method} {path} {sorted(sent)}"] = (answer.status_code, calls)
    assert len(WRITING) >= 30
    assert wrong == {}
