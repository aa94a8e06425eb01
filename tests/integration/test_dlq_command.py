"""`accounts-dlq replay` against the real Kafka, as an operator types it."""

import pytest

from accounts_common import dlq
from tests.conftest import Infra


def test_a_mistyped_group_names_the_groups_that_have_dead_letters(infra: Infra):
    with pytest.raises(SystemExit) as done:
        dlq.main(["replay", "--group", "mailr", "--bootstrap-servers", infra.kafka])
    assert str(done.value.code) == (
        "accounts-dlq: Kafka lists no topic mailr.dlq: it does not exist, or an ACL does not let this login "
        "describe it (the groups with one: mailer, newsletter, catalogue, identity-audit)"
    )
