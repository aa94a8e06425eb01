"""The example counter's command line: `--help` says how to run it, and creates nothing; Kafka refusing
it, no broker answering, or no such topic is one line, not a traceback."""

import pytest
import verified_accounts_counter
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError

from accounts_common.kafka import UnlistedTopic, not_authorized


def test_help_describes_the_command_and_creates_no_database(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        verified_accounts_counter.main(["--help"])
    assert exited.value.code == 0
    assert "usage: verified-accounts-counter [-h] [database]" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


class RefusedFeed:
    """An AccountFeed whose Kafka refuses this client's ACLs (the local broker has none to refuse)."""

    events_topic = "identity.account-events.v1"

    def __init__(self, *_: object, **__: object) -> None:
        pass

    def snapshot(self) -> None:
        raise not_authorized("account feed", TopicAuthorizationFailedError({"identity.accounts.v1"}))


def test_kafka_refusing_the_counter_is_one_line_and_exit_1_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(verified_accounts_counter, "AccountFeed", RefusedFeed)
    with pytest.raises(SystemExit) as exited:
        verified_accounts_counter.main([str(tmp_path / "counter.sqlite3")])
    said = str(exited.value.code)
    assert said.startswith("verified-accounts-counter: account feed: Kafka does not authorize ")
    assert "grant its ACLs" in said and "\n" not in said


class UnreachableFeed(RefusedFeed):
    """An AccountFeed with no broker answering at its address."""

    def snapshot(self) -> None:
        raise KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")


def test_no_kafka_answering_is_one_line_and_exit_1_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setattr(verified_accounts_counter, "AccountFeed", UnreachableFeed)
    with pytest.raises(SystemExit) as exited:
        verified_accounts_counter.main([str(tmp_path / "counter.sqlite3")])
    assert exited.value.code == (
        "verified-accounts-counter: cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): "
        "KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1"
    )


class TopiclessFeed(RefusedFeed):
    """An AccountFeed given a prefix under which Kafka lists no topic."""

    def snapshot(self) -> None:
        raise UnlistedTopic("Kafka lists no topic typo.identity.accounts.v1: it does not exist, or ...")


def test_no_such_topic_is_one_line_and_exit_1_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(verified_accounts_counter, "AccountFeed", TopiclessFeed)
    with pytest.raises(SystemExit) as exited:
        verified_accounts_counter.main([str(tmp_path / "counter.sqlite3")])
    assert exited.value.code == (
        "verified-accounts-counter: Kafka lists no topic typo.identity.accounts.v1: it does not exist, or ..."
    )
