"""`accounts-topics` and `accounts-dlq replay` with no Kafka to reach: one line on stderr and a
non-zero exit, not a traceback (nor the Kafka client's retries logged on the way)."""

import os
import subprocess
import sys

import pytest

from accounts_common import dlq

NO_KAFKA = "127.0.0.1:1"


@pytest.mark.parametrize(
    ("module", "argv", "prog"),
    [
        ("accounts_common.events.topics", [], "accounts-topics"),
        ("accounts_common.dlq", ["replay", "--group", "mailer"], "accounts-dlq"),
    ],
)
def test_an_unreachable_kafka_is_one_line_not_a_traceback(module, argv, prog):
    done = subprocess.run(
        [sys.executable, "-m", module, *argv, "--bootstrap-servers", NO_KAFKA],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{prog}: cannot reach Kafka at {NO_KAFKA}: KafkaTimeoutError: Unable to bootstrap from {NO_KAFKA}"
    ]


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
