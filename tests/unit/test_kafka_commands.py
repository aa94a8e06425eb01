"""`accounts-topics` and `accounts-dlq replay` with no Kafka to reach, or Kafka refusing them: one
line on stderr and a non-zero exit, not a traceback (nor the Kafka client's retries logged on the
way), and a refusal named as one, not an outage."""

import os
import re
import subprocess
import sys

import pytest
from kafka.errors import (
    KafkaTimeoutError,
)

from accounts_common import dlq
from accounts_common.events import topics
from tests.support.kafka_refusals import refusal_name, refusals

NO_KAFKA = "127.0.0.1:1"
BOOTSTRAP_FAILED = f"KafkaTimeoutError: Unable to bootstrap from {NO_KAFKA}"
REFUSALS = refusals("mailer.dlq", "mailer.dlq-replay")
SAYS = (
    r"^accounts-dlq: Kafka (does not authorize this client .*: grant its ACLs \(deploy/k8s/kafka-users.yaml\)"
    r"|refused the login of this client .*: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD); "
)


def test_accounts_topics_with_no_kafka_to_reach_is_one_line_not_a_traceback(monkeypatch):
    """kafka-python's admin client gives up bootstrapping after its request timeout (30 s) with this
    error: raised at once here, the command's answer to it is what is checked."""

    def no_kafka(bootstrap_servers: str, *, client_id: str) -> None:
        raise KafkaTimeoutError(f"Unable to bootstrap from {bootstrap_servers}")

    monkeypatch.setattr(topics, "create_admin", no_kafka)
    with pytest.raises(SystemExit) as done:
        topics.main(["--bootstrap-servers", NO_KAFKA])
    assert done.value.code == f"accounts-topics: cannot reach Kafka at {NO_KAFKA}: {BOOTSTRAP_FAILED}"


# accounts-dlq's main() with its reader giving up after 1 s instead of READER_TIMEOUT_MS's 10: the
# one line it then prints is what is checked, not how long the reader waits.
DLQ_READER_GIVING_UP_SOONER = (
    "from accounts_common import dlq, kafka; kafka.READER_TIMEOUT_MS = 1_000; dlq.main()"
)


def test_accounts_dlq_replay_with_no_kafka_to_reach_is_one_line_not_a_traceback():
    """For real, in its own process: nor the client's retries logged on the way."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            DLQ_READER_GIVING_UP_SOONER,
            "replay",
            "--group",
            "mailer",
            "--bootstrap-servers",
            NO_KAFKA,
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"accounts-dlq: cannot reach Kafka at {NO_KAFKA}: {BOOTSTRAP_FAILED}"]


def test_dlq_help_says_what_each_command_does_in_whole_sentences(capsys):
    with pytest.raises(SystemExit) as done:
        dlq.main(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "listed and positional arguments" not in shown
    for command in ("replay --group G", "parked --service S", "replay-parked --service S"):
        assert command in shown


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_a_usage_error_of_replay(limit, capsys):
    with pytest.raises(SystemExit) as done:
        dlq.main(["replay", "--group", "mailer", "--limit", limit])
    assert done.value.code == 2
    shown = capsys.readouterr().err
    assert shown.startswith("usage: accounts-dlq replay ")
    assert "accounts-dlq replay: error: --limit must be at least 1" in shown


@pytest.mark.parametrize("error", REFUSALS, ids=refusal_name)
def test_accounts_dlq_replay_refused_by_kafka_names_the_refusal_not_an_outage(error, monkeypatch):
    """kafka-python's own exceptions, raised where the replay meets Kafka first (the local broker has
    no ACLs nor SASL listener to refuse anything for real)."""

    def refused(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(dlq, "create_reader", refused)
    with pytest.raises(SystemExit) as done:
        dlq.main(["replay", "--group", "mailer", "--bootstrap-servers", NO_KAFKA])
    said = str(done.value.code)
    assert re.match(SAYS, said) and "\n" not in said
    assert said.endswith(
        f"nothing more replayed: run it again once that is fixed ({type(error).__name__}: {error})"
    )
