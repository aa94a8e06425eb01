"""The consumer quickstart (examples/verified-accounts-counter) restarted after being stopped longer
than the account events are kept: it counts again from identity.accounts.v1 and misses nothing."""

import uuid

from tests.integration.conftest import PASSWORD, bearer, sign_up
from tests.integration.test_quickstart_counter import (
    counter,
    event_ends,
    forget_the_events,
    verified_once_caught_up,
)
from tests.support.polling import wait_for
from tests.support.private_identity import private_identity


def test_a_counter_stopped_past_the_events_retention_counts_the_changes_it_never_read(infra, tmp_path):
    database = tmp_path / "counter.sqlite3"
    with private_identity(infra) as identity:

        def new_account() -> tuple[str, str]:
            token = sign_up(identity.client, identity.pool, f"kept-{uuid.uuid4().hex[:10]}@example.org")
            return token, identity.client.get("/v1/accounts/me", headers=bearer(token)).json["id"]

        (deleted_token, deleted), (_, kept) = new_account(), new_account()
        identity.wait_until_relayed()
        ends = event_ends(infra, identity)
        with counter(infra, identity, database):
            wait_for(lambda: verified_once_caught_up(database, ends), timeout=60, what="the first count")

        # While it is stopped: a deletion and a new account, then retention drops those events.
        response = identity.client.delete(
            "/v1/accounts/me", json={"password": PASSWORD}, headers=bearer(deleted_token)
        )
        assert response.status_code == 204
        _, later = new_account()
        identity.wait_until_relayed()
        ends = event_ends(infra, identity)
        forget_the_events(infra, identity, ends)

        with counter(infra, identity, database):
            counted = wait_for(
                lambda: verified_once_caught_up(database, ends),
                timeout=30,
                what="the restarted counter to go on from where the kept events begin",
            )
        assert counted == {kept, later}
        assert deleted not in counted
