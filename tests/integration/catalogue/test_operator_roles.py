"""Every operator endpoint of every service against every kind of caller: no token, a token that is
not one, a plain account, each staff role, and the right role logged in without a second factor.
The services run in-process and check the tokens of one identity served on a real port."""

import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from flask.testing import FlaskClient

from accounts_common.db import create_pool
from accounts_common.roles import ROLES, Role
from catalogue.entrypoints.app import create_app as create_catalogue_app
from identity.service_layer import staff
from mailer.entrypoints.app import create_app as create_mailer_app
from mailer.migrations import MAILER_MIGRATIONS
from newsletter.entrypoints.app import create_app as create_newsletter_app
from tests.conftest import migrated_database
from tests.integration.conftest import PASSWORD, bearer, private_mailer_settings, sign_up, staff_token

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
    Endpoint("catalogue", "POST", "/v1/uploads/", None, Role.CATALOGUE_EDITOR),
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
CALLERS = ["no token", "not a token", "plain account", *ROLES, "role without a second factor"]


@pytest.fixture(scope="module")
def mailer_db(infra) -> str:  # type: ignore[no-untyped-def]
    return migrated_database(infra, "test_mailer_roles", MAILER_MIGRATIONS)


@pytest.fixture
def clients(
    served_identity, make_catalogue, newsletter, mailer_db, infra
) -> Iterator[dict[str, FlaskClient]]:  # type: ignore[no-untyped-def]
    settings = private_mailer_settings(infra, mailer_db, served_identity.jwks_url, "roles")
    with create_pool(mailer_db, name="test-mailer-roles") as pool:
        yield {
            "identity": served_identity.app.test_client(),
            "catalogue": create_catalogue_app(make_catalogue()).test_client(),
            "newsletter": create_newsletter_app(newsletter).test_client(),
            "mailer": create_mailer_app(settings, pool).test_client(),
        }


@pytest.fixture
def headers(served_identity, identity_pool, unique_email) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """The Authorization header of each kind of caller; the last one holds every role, without MFA."""
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
    return callers


def expected(endpoint: Endpoint, caller: str) -> tuple[int, str] | None:
    """The refusal the caller must get (status, problem type ending), or None: let through."""
    if caller in ("no token", "not a token"):
        return 401, ""
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
                problem_type = (response.json or {}).get("type", "")
                ok = response.status_code == refusal[0] and problem_type.endswith(refusal[1])
            outcomes[(endpoint.service, endpoint.method, endpoint.path, caller)] = (ok, response.status_code)
    wrong = {pair: status for pair, (ok, status) in outcomes.items() if not ok}
    assert not wrong, f"answers that do not match the roles: {wrong}"
    assert len(outcomes) == len(ENDPOINTS) * len(CALLERS)
