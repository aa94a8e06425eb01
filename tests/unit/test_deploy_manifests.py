"""The deployment files repeat the contract's topics; these tests keep them the same."""

from pathlib import Path

import yaml

from accounts_common.events import TOPICS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_strimzi_topics_match_the_declared_topics():
    manifests = [doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "kafka-topics.yaml").read_text()) if doc]
    declared = {topic.name: (topic.partitions, int(topic.configs["retention.ms"])) for topic in TOPICS}
    deployed = {
        doc["spec"]["topicName"]: (doc["spec"]["partitions"], doc["spec"]["config"]["retention.ms"])
        for doc in manifests
    }
    assert deployed == declared


def test_compose_runs_every_process_of_make_run():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {
        "identity-web",
        "identity-relay",
        "mailer-worker",
        "mailer-web",
        "newsletter-web",
        "newsletter-worker",
        "newsletter-relay",
    } <= set(services)
    assert services["identity-relay"]["command"] == ["identity", "relay"]
    assert services["mailer-worker"]["command"] == ["mailer", "worker"]
    assert services["newsletter-worker"]["command"] == ["newsletter", "worker"]
