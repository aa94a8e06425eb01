"""The short chaos run: three scenarios of `make chaos` with smaller bursts.

The stack runs against the shared broker and PostgreSQL but with its own databases, copies of the
topics, consumer group and SMTP sink: these scenarios kill only the stack's own processes and fault
only its own sink. The scenarios that stop a broker or crash PostgreSQL need a cluster of their own:
`make chaos`.
"""

from collections.abc import Iterator

import pytest

from accounts_common.events import Topic, dead_letter_topic
from bench.chaos.infra import PrivateSink
from bench.chaos.scenarios import SCENARIOS, SHORT, Chaos, run_scenario
from bench.chaos.stack import ChaosStack, StackConfig
from tests.conftest import RUN_ID, Infra, fresh_database, fresh_topics, stack_topics
from tests.support.hashing import CHEAP_HASHING_ENV

SIGNUPS = 60


@pytest.fixture(scope="module")
def chaos(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    logs = tmp_path_factory.mktemp("chaos-logs")
    group, prefix = f"mailer-chaos-{RUN_ID}", f"e2e-chaos-{RUN_ID}."
    # New topics, read from their beginning: only this run's signups are on them.
    fresh_topics(infra, *stack_topics(prefix), Topic(dead_letter_topic(group), partitions=1))
    sink = PrivateSink(logs)
    sink.start()
    stack = ChaosStack(
        StackConfig(
            kafka=infra.kafka,
            identity_database_url=fresh_database(infra, "chaos_identity"),
            mailer_database_url=fresh_database(infra, "chaos_mailer"),
            smtp_port=sink.smtp_port,
            mailer_group=group,
            logs=logs,
            topic_prefix=prefix,
            # The scenarios count lost and doubled codes, not hashing (`make chaos` keeps the product's).
            identity_env=CHEAP_HASHING_ENV,
        )
    )
    try:
        stack.start()
        yield Chaos(stack=stack, inbox=sink.inbox, kafka=None, postgres=None)
    finally:
        stack.stop()
        sink.stop()


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.name in SHORT], ids=lambda s: s.name)
def test_every_accepted_signup_gets_its_code_once_despite_the_fault(chaos, scenario):
    outcome = run_scenario(chaos, scenario, SIGNUPS)

    assert outcome.accepted == SIGNUPS, outcome
    assert outcome.missing == 0, outcome
    assert outcome.duplicated <= scenario.duplicates_allowed, outcome
    assert outcome.ok, outcome
