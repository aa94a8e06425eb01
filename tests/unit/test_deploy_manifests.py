"""The deployment files (compose, deploy/k8s and its s3 overlay) repeat what the code says: its
topics, settings, processes, metrics ports and consumer groups. No cluster runs here: these tests
keep them the same."""

import dataclasses
import importlib
import os
import re
from pathlib import Path

import pytest
import yaml

from accounts_common.config import READ_ELSEWHERE, InsecureKey, secret_key
from accounts_common.events import TOPICS
from accounts_common.events.topics import ACCOUNT_EVENTS, CONSUMER_GROUPS, dead_letter_topic, new_topic
from accounts_common.kafka import KafkaLogin
from tests.support.scripts import load_script

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
    secret = yaml.safe_load((DEPLOY / "k8s" / "secrets.example.yaml").read_text())
    for manifest in ("identity.yaml", "mailer.yaml", "catalogue.yaml", "portal.yaml", "newsletter.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / manifest).read_text()):
            for container in _containers(doc):
                for item in container.get("env", []):
                    if item["name"] in secret["stringData"]:
                        reference = item["valueFrom"]["secretKeyRef"]
                        assert reference == {"name": secret["metadata"]["name"], "key": item["name"]}


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


def _kustomized(folder: Path) -> list[str]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]


def k8s_documents(variant: str) -> list[dict]:  # type: ignore[type-arg]
    """The base's documents; for the overlay, with its patches of Deployments' containers and of
    NetworkPolicies applied (fields replaced, container by container, and the policies' rule lists
    whole, as a strategic merge does for these)."""
    docs = [
        doc
        for name in _kustomized(DEPLOY / "k8s")
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text())
        if doc
    ]
    if variant == "k8s":
        return docs
    overlay = DEPLOY / variant
    for patch in yaml.safe_load((overlay / "kustomization.yaml").read_text())["patches"]:
        change = yaml.safe_load((overlay / patch["path"]).read_text()) if "path" in patch else {}
        kind = change.get("kind")
        if kind not in ("Deployment", "NetworkPolicy"):
            continue
        [target] = [
            doc
            for doc in docs
            if doc["kind"] == kind and doc["metadata"]["name"] == change["metadata"]["name"]
        ]
        if kind == "NetworkPolicy":
            target["spec"] |= change["spec"]
        for container in change["spec"].get("template", {}).get("spec", {}).get("containers", []):
            [patched] = [c for c in _containers(target) if c["name"] == container["name"]]
            patched |= {key: value for key, value in container.items() if key != "volumeMounts"}
    return docs


SERVICES = ("identity", "mailer", "catalogue", "newsletter", "portal")
COMPOSE_VARIABLE = re.compile(r"\$\{(\w+):-([^}]*)\}")  # ${VARIABLE:-default}
KEY = "ZGVwbG95LXRlc3Qtb25seS1hLWtleS0zMi1ieXRlcyE="  # a Fernet key: strong enough for any key


def compose_processes(production: bool) -> list[tuple[str, str, dict[str, str]]]:
    """(name, service, environment) of each process compose runs from a service's image: as compose
    gives it with none of its variables set (development), or as compose.sh sets them (production:
    ACCOUNTS_ENV and every key)."""

    def variable(match: re.Match[str]) -> str:
        name, default = match.groups()
        if production and name == "ACCOUNTS_ENV":
            return "production"
        return KEY if production and name.endswith(("_KEY", "_KEYS")) else default

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return [
        (name, service, {key: COMPOSE_VARIABLE.sub(variable, str(value)) for key, value in env.items()})
        for name, spec in services.items()
        if (env := spec.get("environment")) is not None
        for service in SERVICES
        if COMPOSE_VARIABLE.sub(variable, spec.get("image", "")) == f"accounts-{service}"
    ]


def k8s_processes() -> list[tuple[str, str, dict[str, str]]]:
    """(workload/container, service, environment) of each container of deploy/k8s running a service's
    image: its ConfigMaps and Secrets (secrets.example.yaml, each placeholder made a usable key) and env."""
    docs = k8s_documents("k8s")
    maps = {doc["metadata"]["name"]: doc["data"] for doc in docs if doc["kind"] == "ConfigMap"}
    secret = yaml.safe_load((DEPLOY / "k8s" / "secrets.example.yaml").read_text())
    placeholders = secret["stringData"].items()
    maps[secret["metadata"]["name"]] = {name: value.replace("CHANGE-ME", KEY) for name, value in placeholders}
    processes = []
    for doc in docs:
        for container in _containers(doc):
            service = container["image"].removeprefix("accounts-")
            if service not in SERVICES:
                continue
            env = {}
            for source in container.get("envFrom", []):
                env |= maps[(source.get("configMapRef") or source["secretRef"])["name"]]
            env |= {item["name"]: item.get("value", KEY) for item in container.get("env", [])}
            processes.append((f"{doc['metadata']['name']}/{container['name']}", service, env))
    return processes


def on_a_developers_machine(settings: type) -> set[str]:
    """The variables whose default only works where everything runs on one machine (127.0.0.1)."""
    return {
        settings.variable(item.name)  # type: ignore[attr-defined]
        for item in dataclasses.fields(settings)
        if isinstance(item.default, str) and "127.0.0.1" in item.default
    }


DEPLOYED = {
    "compose": compose_processes(production=False),
    "compose-production": compose_processes(production=True),
    "k8s": k8s_processes(),
}


@pytest.mark.parametrize(
    ("process", "service", "env"),
    [process for processes in DEPLOYED.values() for process in processes],
    ids=[f"{where}:{name}" for where, processes in DEPLOYED.items() for name, _, _ in processes],
)
def test_each_process_starts_on_what_it_is_given_and_no_setting_stays_on_the_developers_machine(
    process, service, env, monkeypatch
):
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = importlib.import_module(f"{service}.settings").Settings
    settings.from_env()  # a missing or development key, or a value that does not parse, raises
    missing = on_a_developers_machine(settings) - {name for name, value in env.items() if value}
    assert not missing, f"{process} leaves {sorted(missing)} on their 127.0.0.1 defaults"


@pytest.mark.parametrize("where", DEPLOYED)
def test_the_portals_pages_let_in_the_one_address_the_catalogue_gives_its_links(where):
    """The pages' Content-Security-Policy names PORTAL_CATALOGUE_PUBLIC_URL; thumbnails, previews and
    Download's redirect come from CATALOGUE_PUBLIC_URL. Apart, they would all be blocked."""
    given = {
        variable: {env[variable] for _, _, env in DEPLOYED[where] if variable in env}
        for variable in ("CATALOGUE_PUBLIC_URL", "PORTAL_CATALOGUE_PUBLIC_URL")
    }
    [catalogue] = given["CATALOGUE_PUBLIC_URL"]
    assert given["PORTAL_CATALOGUE_PUBLIC_URL"] == {catalogue}


def nginx_conf():  # type: ignore[no-untyped-def]
    """deploy/local/nginx_conf.py, which the accounts-nginx image runs on its arguments."""
    return load_script(DEPLOY / "local" / "nginx_conf.py", "nginx_conf_of_the_pods")


def edge_routes(docs: list[dict]) -> tuple[list[str], dict[str, dict]]:  # type: ignore[type-arg]
    """The edge's nginx arguments, and the Service each of its routes passes to, by host name."""
    [edge] = [doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "edge"]
    [nginx] = _containers(edge)
    services = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Service"}
    routes = [arg.removeprefix("--route=").split(":") for arg in nginx["args"] if arg.startswith("--route=")]
    return nginx["args"], {address.split("@")[0]: services[name] for address, name, _ in routes}


def uploads_location(arguments: list[str], listen: str, folder: Path) -> set[str]:
    """The directives of /v1/uploads/ in the server `listen` (its listen or server_name line) of the
    configuration nginx_conf.py writes for these arguments, as the accounts-nginx image runs it."""
    nginx_conf().main(["--prefix", str(folder), "--listen-host", "0.0.0.0", *arguments])
    servers = (folder / "nginx.conf").read_text().split("server {")
    [server] = [text for text in servers if listen in text]
    location = re.search(r"location /v1/uploads/ \{(.*?)\}", server, re.DOTALL)
    return {line.strip() for line in location.group(1).splitlines()} if location else set()


@pytest.mark.parametrize("variant", ["k8s", "k8s-s3"])
def test_tus_uploads_stream_through_uncapped_at_the_edge_and_at_the_catalogues_nginx(variant, tmp_path):
    docs = k8s_documents(variant)
    arguments, routes = edge_routes(docs)
    [(host, service)] = [(host, service) for host, service in routes.items() if host.startswith("catalogue.")]
    streamed = {"proxy_request_buffering off;", "client_max_body_size 0;"}
    assert streamed <= uploads_location(arguments, f"server_name {host};", tmp_path / "edge"), (
        f"{variant}: the edge buffers tus uploads and caps them at its body limit"
    )
    [pods] = [
        doc
        for doc in docs
        if doc["kind"] == "Deployment"
        and doc["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    ]
    [nginx] = [c for c in _containers(pods) if c["image"] == "accounts-nginx"]
    [port] = [
        p["containerPort"] for p in nginx["ports"] if p["name"] == service["spec"]["ports"][0]["targetPort"]
    ]
    assert streamed <= uploads_location(nginx["args"], f"listen 0.0.0.0:{port};", tmp_path / "pods"), (
        f"{variant}: the pods' nginx buffers tus uploads and caps them at its body limit"
    )


@pytest.mark.parametrize("variant", ["k8s", "k8s-s3"])
def test_the_pods_the_edge_passes_to_let_it_in(variant):
    """The overlay replaces the catalogue's policy whole: the edge must be let in there too."""
    docs = k8s_documents(variant)
    _, routes = edge_routes(docs)
    for service in routes.values():
        labels = service["spec"]["selector"]
        [policy] = [
            doc
            for doc in docs
            if doc["kind"] == "NetworkPolicy" and doc["spec"]["podSelector"].get("matchLabels") == labels
        ]
        admitted = {
            port["port"]
            for rule in policy["spec"].get("ingress", [])
            if {"podSelector": {"matchLabels": {"app": "edge"}}} in rule.get("from", [])
            for port in rule["ports"]
        }
        assert service_target_ports(docs, labels) <= admitted, (variant, policy["metadata"]["name"])


@pytest.mark.parametrize("variant", ["k8s", "k8s-s3"])
def test_a_port_open_to_every_pod_is_one_a_service_sends_to(variant):
    """A port open to anyone is one a Service sends to (the edge's, to the clients); a port no Service
    sends to (metrics beside the app, the app behind its pod's nginx) is Prometheus's alone."""
    docs = k8s_documents(variant)
    for policy in (doc for doc in docs if doc["kind"] == "NetworkPolicy"):
        labels = policy["spec"]["podSelector"].get("matchLabels")
        open_to_all = {
            port["port"]
            for rule in policy["spec"].get("ingress", [])
            if not rule.get("from")
            for port in rule["ports"]
        }
        assert open_to_all <= service_target_ports(docs, labels), (variant, policy["metadata"]["name"])


def service_target_ports(docs: list[dict], labels: dict | None) -> set[int]:  # type: ignore[type-arg]
    """The container ports the Services selecting these pod labels send to (named ports resolved)."""
    named = {
        port.get("name"): port["containerPort"]
        for doc in docs
        if doc["kind"] == "Deployment" and doc["spec"]["selector"]["matchLabels"] == labels
        for container in _containers(doc)
        for port in container.get("ports", [])
    }
    return {
        named.get(port["targetPort"], port["targetPort"])
        for doc in docs
        if doc["kind"] == "Service" and doc["spec"]["selector"] == labels
        for port in doc["spec"]["ports"]
    }


def consumer_groups() -> dict[str, str]:
    """Each consumer group the services' settings name, with the service whose KafkaUser it logs in as."""
    groups = {}
    for service in SERVICES:
        settings = importlib.import_module(f"{service}.settings").Settings
        for item in dataclasses.fields(settings):
            if item.name.endswith("consumer_group"):
                groups[item.default] = service
    return groups


def acls(user: str, kind: str) -> list[dict]:  # type: ignore[type-arg]
    [doc] = [
        doc
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / "kafka-users.yaml").read_text())
        if doc and doc["metadata"]["name"] == user
    ]
    return [acl for acl in doc["spec"]["authorization"]["acls"] if acl["resource"]["type"] == kind]


def allows(rules: list[dict], name: str, operation: str) -> bool:  # type: ignore[type-arg]
    return any(
        operation in rule["operations"]
        and (
            name.startswith(rule["resource"]["name"])
            if rule["resource"].get("patternType") == "prefix"
            else name == rule["resource"]["name"]
        )
        for rule in rules
    )


def test_each_consumer_group_may_consume_and_keep_its_dead_letters_as_its_services_kafka_user():
    groups = consumer_groups()
    assert set(groups) == set(CONSUMER_GROUPS), "the groups the services use are the ones with DLQ topics"
    for group, service in groups.items():
        dlq = dead_letter_topic(group)
        assert allows(acls(service, "group"), group, "Read"), group
        assert allows(acls(service, "group"), f"{dlq}-replay", "Read"), "accounts_common.dlq's replay group"
        assert allows(acls(service, "topic"), dlq, "Write") and allows(acls(service, "topic"), dlq, "Read")
    users = {
        doc["metadata"]["name"]
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / "kafka-users.yaml").read_text())
        if doc
    }
    for user in users:
        for rule in acls(user, "group"):
            assert any(allows([rule], group, "Read") for group in groups), f"{user}: a group no service uses"


def test_identity_may_read_back_its_account_events_for_erase_again():
    """After a restore, `identity erase-again` reads the AccountDeleted events back from the topic
    identity writes (assigned partitions, no group), logged in as identity: a Fetch without Read on
    the topic is refused (TopicAuthorizationFailed), and the restore's step 4 with it."""
    assert allows(acls("identity", "topic"), ACCOUNT_EVENTS, "Read")


SECRETS = set(yaml.safe_load((DEPLOY / "k8s" / "secrets.example.yaml").read_text())["stringData"])


@pytest.mark.parametrize(
    ("process", "service", "env"),
    [*DEPLOYED["compose-production"], *DEPLOYED["k8s"]],
    ids=[f"{where}:{name}" for where in ("compose-production", "k8s") for name, _, _ in DEPLOYED[where]],
)
def test_each_process_is_given_only_the_secrets_its_service_reads(process, service, env):
    """The code key is identity's and the mailer's alone (DESIGN §2), a database URL its service's."""
    settings = importlib.import_module(f"{service}.settings").Settings
    others = (SECRETS & set(env)) - settings.variables()
    assert not others, f"{process} is given {sorted(others)}, which {service} does not read"


# Commands an operator runs by hand, never deployed as processes: identity's relay sweeps what
# `housekeeping` does; keys and staff roles are changed when needed, erasures again after a restore;
# sample and synthetic videos are for development and benchmarks, and production's bucket is
# provisioned (`storage-init`: compose's).
CHORES = {
    "identity": {"housekeeping", "rotate-key", "staff", "erase-again"},
    "catalogue": {"seed", "generate", "storage-init"},
}


def commands_run(service: str, commands: list[list[str] | None]) -> set[str]:
    """The `<service> <command>`s among these container commands (none: the image's, `web`)."""
    run = set()
    for command in commands:
        if command is None:
            run.add("web")
        else:
            run |= set(re.findall(rf"(?:^|\s|&&\s){service} ([\w-]+)", " ".join(command)))
    return run


@pytest.mark.parametrize("service", SERVICES)
def test_every_process_type_of_every_service_runs_in_k8s_and_in_compose(service):
    cli = importlib.import_module(f"{service}.entrypoints.cli").cli
    processes = set(cli.commands) - CHORES.get(service, set())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    in_compose = [
        spec.get("command") for spec in compose.values() if f"accounts-{service}" in spec.get("image", "")
    ]
    in_k8s = [
        container.get("command")
        for doc in k8s_documents("k8s")
        for container in _containers(doc)
        if container["image"] == f"accounts-{service}"
    ]
    assert processes <= commands_run(service, in_k8s), "deploy/k8s"
    assert processes <= commands_run(service, in_compose), "deploy/compose.yaml"


def test_prometheus_is_told_the_port_each_process_serves_its_metrics_on():
    """A web process's metrics are on its port (<SERVICE>_PORT); any other process's on
    <SERVICE>_<PROCESS>_METRICS_PORT when it has one, listening beyond the pod (its _HOST)."""
    envs = {name: env for name, _, env in k8s_processes()}
    for doc in (doc for doc in k8s_documents("k8s") if doc["kind"] == "Deployment"):
        services = [c for c in _containers(doc) if c["image"] != "accounts-nginx"]
        if not services:  # the edge: nginx alone, with no metrics of its own
            continue
        [container] = services
        service = container["image"].removeprefix("accounts-")
        [process] = commands_run(service, [container.get("command")])
        settings = importlib.import_module(f"{service}.settings").Settings
        defaults = {settings.variable(item.name): item.default for item in dataclasses.fields(settings)}
        metrics = (
            service.upper() if process == "web" else f"{service}_{process}_metrics".upper().replace("-", "_")
        )
        port = defaults.get(f"{metrics}_PORT")
        annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
        if port is None:
            assert "prometheus.io/scrape" not in annotations, doc["metadata"]["name"]
            continue
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port)}
        if process != "web":
            env = envs[f"{doc['metadata']['name']}/{container['name']}"]
            assert env.get(f"{metrics}_HOST") == "0.0.0.0", doc["metadata"]["name"]


def source_text() -> str:
    roots = [DEPLOY.parent / "shared" / "src", *(DEPLOY.parent / "services").glob("*/src")]
    return "\n".join(path.read_text() for root in roots for path in root.rglob("*.py"))


@pytest.mark.parametrize("where", sorted(DEPLOYED))
def test_every_variable_a_process_is_given_is_one_something_reads(where):
    """A misspelt name is ignored (the service's own prefix is at least warned about at start-up)."""
    settings = {service: importlib.import_module(f"{service}.settings").Settings for service in SERVICES}
    read = KafkaLogin.variables().union(*(s.variables() for s in settings.values()))
    code = source_text()
    for process, service, env in DEPLOYED[where]:
        for name in env:
            own = name.startswith(f"{service.upper()}_") and name not in READ_ELSEWHERE
            known = name in settings[service].variables() if own else name in read or f'"{name}"' in code
            assert known, f"{where}:{process} is given {name}, which nothing reads"
