"""Every operator endpoint of every service against every kind of caller: no token, a token that is
not one, a login's challenge (identity's own JWT, for another audience), a plain account, each staff
role, the right role logged in without a second factor, and the tokens of staff whose roles were
revoked, or whose account was deleted, since they were issued. The services run in-process and check
the tokens of one identity served on a real port; its events reach their projections as a consumer
would hand them on."""

import json
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from accounts_common.account_projection import REVOCATION_HANDLERS
from accounts_common.db import create_pool
from accounts_common.events import parse_event, validate_data
from accounts_common.roles import ROLES, Role
from catalogue.entrypoints.app import create_app as create_catalogue_app
from identity.service_layer import staff
from mailer.entrypoints.app import create_app as create_mailer_app
from mailer.migrations import MAILER_MIGRATIONS
from newsletter.entrypoints.app import create_app as create_newsletter_app
from tests.conftest import migrated_database
from tests.integration.conftest import (
    PASSWORD,
    account_events,
    bearer,
    private_mailer_settings,
    sign_up,
    staff_token,
)

NOBODY = "nobody-at-all@example.org"


class Endpoint(NamedTuple):
    service: str
    method: str
    path: str
    body: dict[str, Any] | None
    role: Role


ENDPOINTS = [
    Endpoint("catalogue", "POST", "/v1/videos", {}, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "POST", "/v1/videos/imports", {}, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "PATCH", f"/v1/videos/{uuid.uuid4()}", {}, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "POST", f"/v1/videos/{uuid.uuid4()}/publication", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "DELETE", f"/v1/videos/{uuid.uuid4()}/publication", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "DELETE", f"/v1/videos/{uuid.uuid4()}", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "POST", f"/v1/videos/{uuid.uuid4()}/transcoding", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "POST", "/v1/uploads/", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "HEAD", f"/v1/uploads/{uuid.uuid4()}", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "PATCH", f"/v1/uploads/{uuid.uuid4()}", None, Role.CATALOGUE_EDITOR),
    Endpoint("catalogue", "DELETE", f"/v1/uploads/{uuid.uuid4()}", None, Role.CATALOGUE_EDITOR),
    Endpoint("newsletter", "POST", "/v1/issues", {}, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "GET", "/v1/issues", None, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "GET", f"/v1/issues/{uuid.uuid4()}", None, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "PUT", f"/v1/issues/{uuid.uuid4()}", {}, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "POST", "/v1/issues/preview", {}, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "POST", f"/v1/issues/{uuid.uuid4()}/test", None, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "POST", f"/v1/issues/{uuid.uuid4()}/send", {}, Role.NEWSLETTER_EDITOR),
    Endpoint("newsletter", "POST", f"/v1/issues/{uuid.uuid4()}/cancel", None, Role.NEWSLETTER_EDITOR),
    Endpoint("mailer", "GET", f"/v1/deliveries?email={NOBODY}", None, Role.SUPPORT),
    Endpoint("mailer", "GET", "/v1/dead-letters", None, Role.SUPPORT),
    Endpoint("mailer", "POST", "/v1/dead-letters/replays", {"partition": 0, "offset": 10**9}, Role.SUPPORT),
    Endpoint("identity", "GET", "/v1/audit", None, Role.ADMIN),
    Endpoint("identity", "GET", "/v1/staff", None, Role.ADMIN),
    Endpoint("identity", "POST", "/v1/staff/grants", {"email": NOBODY, "role": "support"}, Role.ADMIN),
    Endpoint("identity", "POST", "/v1/staff/revocations", {"email": NOBODY, "role": "support"}, Role.ADMIN),
    Endpoint("identity", "GET", f"/v1/support/accounts?email={NOBODY}", None, Role.SUPPORT),
    Endpoint("identity", "POST", "/v1/support/accounts/code-resends", {"email": NOBODY}, Role.SUPPORT),
    Endpoint(
        "identity",
        "POST",
        "/v1/support/accounts/erasures",
        {"email": NOBODY, "reason": "a test"},
        Role.SUPPORT,
    ),
]
# Each holds every role: what refuses them is how their token stands, never a role it lacks.
ENDED = ["challenge as a token", "roles revoked since", "account deleted since"]
CALLERS = ["no token", "not a token", "plain account", *ROLES, "role without a second factor", *ENDED]


@pytest.fixture(scope="module")
def mailer_db(infra) -> str:  # type: ignore[no-untyped-def]
    return migrated_database(infra, "test_mailer_roles", MAILER_MIGRATIONS)


@pytest.fixture
def mailer_pool(mailer_db) -> Iterator[ConnectionPool]:  # type: ignore[no-untyped-def]
    with create_pool(mailer_db, name="test-mailer-roles") as pool:
        yield pool


@pytest.fixture
def clients(
    served_identity, make_catalogue, newsletter, mailer_db, mailer_pool, infra
) -> dict[str, FlaskClient]:  # type: ignore[no-untyped-def]
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "roles")
    return {
        "identity": served_identity.app.test_client(),
        "catalogue": create_catalogue_app(make_catalogue()).test_client(),
        "newsletter": create_newsletter_app(newsletter).test_client(),
        "mailer": create_mailer_app(settings, mailer_pool).test_client(),
    }


@pytest.fixture
def headers(  # type: ignore[no-untyped-def]
    served_identity, identity_pool, unique_email, catalogue_pool, newsletter_pool, mailer_pool
) -> dict[str, dict[str, str]]:
    """The Authorization header of each kind of caller."""
    identity = served_identity.app.extensions["identity"]
    client = served_identity.app.test_client()
    callers = {
        "no token": {},
        "not a token": bearer("not-a-token"),
        "plain account": bearer(sign_up(client, identity_pool, unique_email)),
    }
    callers |= {role.value: bearer(staff_token(identity, identity_pool, role)) for role in Role}
    email = "all-roles-" + unique_email
    sign_up(client, identity_pool, email)
    for role in Role:
        staff.grant(identity, email, role)
    login = client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    callers["role without a second factor"] = bearer(login.json["access_token"])

    revoked, deleted, challenged = (bearer(staff_token(identity, identity_pool, *Role)) for _ in range(3))
    revoked_me, deleted_me, challenged_me = (
        client.get("/v1/accounts/me", headers=header).json for header in (revoked, deleted, challenged)
    )
    for role in Role:
        staff.revoke(identity, revoked_me["email"], role)
    assert client.delete("/v1/accounts/me", json={"password": PASSWORD}, headers=deleted).status_code == 204
    for pool in (catalogue_pool, newsletter_pool, mailer_pool):
        for me in (revoked_me, deleted_me):
            hand_on(identity_pool, pool, me["id"])
    login = client.post("/v1/sessions", json={"email": challenged_me["email"], "password": PASSWORD})
    callers["challenge as a token"] = bearer(login.json["challenge"])
    callers["roles revoked since"], callers["account deleted since"] = revoked, deleted
    return callers


def hand_on(identity_pool: ConnectionPool, service_pool: ConnectionPool, account_id: str) -> None:
    """identity's events about the account, to the service's projection, as its consumer would."""
    for raw in account_events(identity_pool, account_id):
        event = parse_event(json.dumps(raw))
        if event.type in REVOCATION_HANDLERS:
            with service_pool.connection() as conn, conn.transaction():
                REVOCATION_HANDLERS[event.type](conn, event, validate_data(event.type, event.data))


def expected(endpoint: Endpoint, caller: str) -> tuple[int, str] | None:
    """The refusal the caller must get (status, problem type ending), or None: let through."""
    if caller in ("no token", "not a token", "challenge as a token"):
        return 401, ""
    if caller in ENDED:  # identity: the session is over (401); elsewhere: the token is revoked
        return (401, "") if endpoint.service == "identity" else (403, "token-revoked")
    if caller == "role without a second factor":
        return 403, "second-factor-required"
    if caller != endpoint.role.value:
        return 403, "role-required"
    return None


def test_every_operator_endpoint_lets_in_its_role_with_a_second_factor_and_only_it(clients, headers):
    outcomes = {}
    for endpoint in ENDPOINTS:
        for caller in CALLERS:
            response = clients[endpoint.service].open(
                endpoint.path, method=endpoint.method, json=endpoint.body, headers=headers[caller]
            )
            refusal = expected(endpoint, caller)
            if refusal is None:
                ok = response.status_code not in (401, 403)
            else:
                problem_type = (response.get_json(silent=True) or {}).get("type", "")
                said = problem_type.endswith(refusal[1]) or endpoint.method == "HEAD"  # HEAD: no body
                ok = response.status_code == refusal[0] and said
            outcomes[(endpoint.service, endpoint.method, endpoint.path, caller)] = (ok, response.status_code)
    wrong = {pair: status for pair, (ok, status) in outcomes.items() if not ok}
    assert not wrong, f"answers that do not match the roles: {wrong}"
    assert len(outcomes) == len(ENDPOINTS) * len(CALLERS)
