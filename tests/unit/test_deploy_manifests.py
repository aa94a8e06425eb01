"""The deployment files repeat the contract's topics; these tests keep them the same."""

import re
from pathlib import Path

import pytest
import yaml

from accounts_common.config import InsecureKey, secret_key
from accounts_common.events import TOPICS
from accounts_common.events.topics import new_topic

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_strimzi_topics_match_the_declared_topics():
    manifests = [doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / "kafka-topics.yaml").read_text()) if doc]
    declared = {
        topic.name: (topic.partitions, topic.configs, topic.replicas, topic.min_insync_replicas)
        for topic in TOPICS
    }
    deployed = {
        doc["spec"]["topicName"]: (
            doc["spec"]["partitions"],
            {key: str(value) for key, value in doc["spec"]["config"].items() if key != "min.insync.replicas"},
            doc["spec"]["replicas"],
            doc["spec"]["config"]["min.insync.replicas"],
        )
        for doc in manifests
    }
    assert deployed == declared


@pytest.mark.parametrize(
    ("brokers", "replicas", "min_insync"), [(1, 1, "1"), (2, 2, "2"), (3, 3, "2"), (5, 3, "2")]
)
def test_topics_get_the_production_replication_where_the_cluster_has_the_brokers(
    brokers, replicas, min_insync
):
    request = new_topic(TOPICS[0], brokers)

    assert request.replication_factor == replicas
    assert request.topic_configs["min.insync.replicas"] == min_insync
    assert request.topic_configs["retention.ms"] == TOPICS[0].configs["retention.ms"]


def test_compose_runs_every_process_of_make_run():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"identity-web", "identity-relay", "mailer-worker", "mailer-web", "portal-web"} <= set(services)
    assert {"catalogue-web", "catalogue-worker", "catalogue-relay", "catalogue-transcoder"} <= set(services)
    assert {"newsletter-web", "newsletter-worker", "newsletter-relay"} <= set(services)
    assert services["catalogue-worker"]["command"] == ["catalogue", "worker"]
    assert services["identity-relay"]["command"] == ["identity", "relay"]
    assert services["mailer-worker"]["command"] == ["mailer", "worker"]
    assert services["newsletter-worker"]["command"] == ["newsletter", "worker"]
    assert services["mailer-bounces"]["command"][:2] == ["mailer", "bounces"]


def test_compose_reads_the_bounce_maildir_the_sink_writes():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    sink_image = (DEPLOY / "containers" / "smtp-sink.Dockerfile").read_text()
    maildir = re.findall(r"--bounce-maildir (\S+?)\"?\]?$", sink_image, re.MULTILINE)[-1]
    reader = services["mailer-bounces"]["command"]
    assert reader[reader.index("--maildir") + 1] == maildir
    volume = f"bounce-maildir:{Path(maildir).parent}"
    assert volume in services["smtp-sink"]["volumes"] and volume in services["mailer-bounces"]["volumes"]


def test_no_placeholder_in_the_example_secrets_would_start_a_service(monkeypatch):
    monkeypatch.delenv("ACCOUNTS_ENV", raising=False)
    secret = yaml.safe_load((DEPLOY / "k8s" / "secrets.example.yaml").read_text())["stringData"]
    keys = {name: value for name, value in secret.items() if name.endswith(("_KEY", "_KEYS"))}
    assert {"CODE_ENCRYPTION_KEYS", "IDENTITY_CODE_HMAC_KEY", "IDENTITY_KEY_ENCRYPTION_KEYS"} <= set(keys)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
        with pytest.raises(InsecureKey):
            secret_key(name, "")


def test_the_kubernetes_workloads_take_every_key_from_the_secret():
    config = yaml.safe_load((DEPLOY / "k8s" / "config.yaml").read_text())
    assert not any(name.endswith(("_KEY", "_KEYS")) for name in config.get("data", {}))
    for manifest in ("identity.yaml", "mailer.yaml", "catalogue.yaml", "portal.yaml", "newsletter.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / manifest).read_text()):
            for container in _containers(doc):
                if container["image"] == "accounts-nginx":
                    continue  # holds no key: it reads files and passes requests on
                refs = {ref.get("secretRef", {}).get("name") for ref in container.get("envFrom", [])}
                assert "accounts-secrets" in refs, (manifest, container["name"])


def _containers(doc):  # type: ignore[no-untyped-def]
    spec = (doc or {}).get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template") or {}
    return template.get("spec", {}).get("containers", [])


def test_the_compose_s3_variant_points_every_catalogue_process_at_its_bucket():
    base = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    override = yaml.safe_load((DEPLOY / "compose.s3.yaml").read_text())["services"]
    assert set(override) - {"s3"} <= set(base), "the override only changes services of compose.yaml"
    for name in ("catalogue-seed", "catalogue-web", "catalogue-worker", "catalogue-transcoder"):
        env = override[name]["environment"]
        assert env["CATALOGUE_STORAGE"].startswith("s3://") and env["AWS_ENDPOINT_URL"] == "http://s3:80"
        assert env["CATALOGUE_X_ACCEL_REDIRECT_PREFIX"] == ""
    assert "catalogue storage-init" in override["catalogue-seed"]["command"][-1]


def test_the_k8s_s3_overlay_patches_what_the_base_has():
    overlay = DEPLOY / "k8s-s3"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../k8s"]
    base = {
        (doc["kind"], doc["metadata"]["name"])
        for resource in yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / resource).read_text())
        if doc
    }
    for patch in kustomization["patches"]:
        if "path" in patch:
            doc = yaml.safe_load((overlay / patch["path"]).read_text())
            assert (doc["kind"], doc["metadata"]["name"]) in base, patch["path"]
        else:
            assert (patch["target"]["kind"], patch["target"]["name"]) in base
    config = yaml.safe_load((overlay / "storage-config.yaml").read_text())["data"]
    assert config["CATALOGUE_STORAGE"].startswith("s3://") and config["AWS_ENDPOINT_URL"].startswith(
        "https://"
    )
