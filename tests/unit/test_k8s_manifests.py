"""deploy/k8s cannot run here (no cluster): these checks parse it instead.

Names it uses exist (images, variables, ConfigMaps and Secrets); every workload meets the Pod
Security Standards' "restricted" profile; web Deployments survive drains and spread out; the
NetworkPolicies let each workload reach only what it needs (the edge's own checks:
test_k8s_edge.py).
"""

import functools
import importlib
import re
from pathlib import Path

import pytest
import yaml

from accounts_common.kafka import KafkaLogin

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SOURCES = [REPO / "shared" / "src", *sorted((REPO / "services").glob("*/src"))]
SERVICES = {path.parent.name for path in (REPO / "services").glob("*/pyproject.toml")}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
# What each workload may reach besides DNS: its database, Kafka, SMTP, the services it calls.
ALLOWED_PEERS = {
    "identity-web": {"identity-db"},
    "identity-relay": {"identity-db", "kafka"},
    "identity-audit-log": {"identity-db", "kafka"},
    "identity-migrate": {"identity-db"},
    "mailer-worker": {"mailer-db", "kafka", "smtp"},
    "mailer-web": {"mailer-db", "identity-web", "kafka"},
    "mailer-migrate": {"mailer-db"},
    "mailer-bounces": {"mailer-db"},
    "catalogue-web": {"catalogue-db", "identity-web"},
    "catalogue-worker": {"catalogue-db", "kafka"},
    "catalogue-relay": {"catalogue-db", "kafka"},
    "catalogue-transcoder": {"catalogue-db"},
    "catalogue-migrate": {"catalogue-db"},
    "portal-web": {"identity-web", "catalogue-web", "newsletter-web", "mailer-web"},
    "newsletter-web": {"newsletter-db", "identity-web"},
    "newsletter-worker": {"newsletter-db", "kafka"},
    "newsletter-relay": {"newsletter-db", "kafka"},
    "newsletter-migrate": {"newsletter-db"},
    "edge": {"portal-web", "identity-web", "catalogue-web", "newsletter-web"},
}
PEER_PORTS = {"kafka": {9092}, "smtp": {25, 465, 587}, "dns": {53}}  # the web pods': their Services'


@functools.cache  # parsed once: the checks below read it hundreds of times, and never change it
def documents() -> tuple[dict, ...]:  # type: ignore[type-arg]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return tuple(
        doc
        for resource in kustomization["resources"]
        for doc in yaml.safe_load_all((K8S / resource).read_text())
        if doc
    )


def of_kind(*kinds: str) -> list[dict]:  # type: ignore[type-arg]
    return [doc for doc in documents() if doc["kind"] in kinds]


def workloads() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """(name, pod template) of every Deployment, StatefulSet, DaemonSet and Job."""
    return [(doc["metadata"]["name"], doc["spec"]["template"]) for doc in of_kind(*POD_TEMPLATE_KINDS)]


def containers(template: dict) -> list[dict]:  # type: ignore[type-arg]
    spec = template["spec"]
    return spec["containers"] + spec.get("initContainers", [])


def source_text() -> str:
    return "\n".join(path.read_text() for root in SOURCES for path in root.rglob("*.py"))


def settings_variables() -> set[str]:
    """Every variable the services' settings read (most are named after their field, not written out)."""
    return KafkaLogin.variables().union(
        *(importlib.import_module(f"{name}.settings").Settings.variables() for name in SERVICES)
    )


def test_there_are_workloads_to_check():
    assert {name for name, _ in workloads()} == set(ALLOWED_PEERS)


@pytest.mark.parametrize(
    "template", [template for _, template in workloads()], ids=[name for name, _ in workloads()]
)
def test_every_workload_meets_the_restricted_pod_security_standard(template):
    spec = template["spec"]
    pod = spec.get("securityContext", {})
    assert not (spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"))
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    assert not any("hostPath" in volume for volume in volumes.values())
    assert "emptyDir" in volumes.get("tmp", {}), "a writable /tmp on an emptyDir"
    for container in containers(template):
        context = {**pod, **container.get("securityContext", {})}
        assert context.get("runAsNonRoot") is True and context.get("runAsUser", 1) != 0
        assert context.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        assert context.get("allowPrivilegeEscalation") is False and not context.get("privileged")
        assert context.get("capabilities", {}).get("drop") == ["ALL"]
        assert set(context.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}
        assert context.get("readOnlyRootFilesystem") is True
        assert {mount["mountPath"] for mount in container.get("volumeMounts", [])} >= {"/tmp"}
        assert all(mount["name"] in volumes for mount in container.get("volumeMounts", []))


def test_the_namespace_enforces_the_restricted_pod_security_standard():
    """The checks above hold for these manifests; the cluster holds every later change to them."""
    [namespace] = of_kind("Namespace")
    labels = namespace["metadata"].get("labels", {})
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"


def test_a_deployment_an_autoscaler_scales_sets_no_replica_count_of_its_own():
    """Kubernetes' advice: with spec.replicas in the manifest, every apply scales the Deployment back
    to that count until the autoscaler acts again (a web tier at peak would drop to 2)."""
    scaled = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind("HorizontalPodAutoscaler")}
    deployments = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind("Deployment")}
    assert scaled and scaled <= set(deployments)
    assert [name for name in sorted(scaled) if "replicas" in deployments[name]] == []


def test_the_user_the_pods_run_as_is_the_images_user():
    users = {template["spec"]["securityContext"]["runAsUser"] for _, template in workloads()}
    dockerfile = (REPO / "deploy" / "containers" / "service.Dockerfile").read_text()
    assert set(re.findall(r"^USER (\d+)$", dockerfile, re.MULTILINE)) == {str(user) for user in users}


def test_every_image_is_built_from_a_service_dockerfile():
    images = {container["image"] for _, template in workloads() for container in containers(template)}
    # accounts-nginx (deploy/containers/nginx.Dockerfile) sends the catalogue's files beside it.
    assert images == {f"accounts-{service}" for service in SERVICES} | {"accounts-nginx"}


def test_every_variable_the_manifests_set_is_read_by_a_service():
    secrets = yaml.safe_load((K8S / "secrets.example.yaml").read_text())["stringData"]
    config = {key for doc in of_kind("ConfigMap") for key in doc["data"]}
    direct = {
        env["name"] for _, template in workloads() for c in containers(template) for env in c.get("env", [])
    }
    code, settings = source_text(), settings_variables()
    for variable in config | set(secrets) | direct:
        read = f'"{variable}"' in code or variable in settings
        assert read, f"{variable} is set by deploy/k8s but no service reads it"


def test_every_configmap_and_secret_the_workloads_name_exists():
    configmaps = {doc["metadata"]["name"] for doc in of_kind("ConfigMap")}
    secrets = {yaml.safe_load((K8S / "secrets.example.yaml").read_text())["metadata"]["name"]}
    for _, template in workloads():
        for container in containers(template):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets


def web_deployments() -> list[dict]:  # type: ignore[type-arg]
    return [
        doc
        for doc in of_kind("Deployment")
        if any(
            port.get("name") == "http"
            for c in containers(doc["spec"]["template"])
            for port in c.get("ports", [])
        )
    ]


def test_each_web_deployment_has_a_disruption_budget_and_spreads_over_zones_and_nodes():
    budgets = {
        yaml.dump(doc["spec"]["selector"]["matchLabels"]): doc["spec"]
        for doc in of_kind("PodDisruptionBudget")
    }
    least = {
        doc["spec"]["scaleTargetRef"]["name"]: doc["spec"]["minReplicas"]
        for doc in of_kind("HorizontalPodAutoscaler")
    }
    assert web_deployments()
    for deployment in web_deployments():
        labels = deployment["spec"]["selector"]["matchLabels"]
        budget = budgets.get(yaml.dump(labels))
        assert budget, f"{deployment['metadata']['name']} has no PodDisruptionBudget"
        replicas = deployment["spec"].get("replicas") or least[deployment["metadata"]["name"]]
        assert 0 < budget["minAvailable"] < replicas
        spread = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        assert {c["topologyKey"] for c in spread if c["labelSelector"]["matchLabels"] == labels} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }


def peer_name(peer: dict, ports: set[int]) -> str:  # type: ignore[type-arg]
    labels = peer.get("podSelector", {}).get("matchLabels", {})
    if labels.get("k8s-app") == "kube-dns":
        return "dns"
    if "strimzi.io/cluster" in labels:
        return "kafka"
    if "ipBlock" in peer and ports <= PEER_PORTS["smtp"]:
        return "smtp"
    if "app" in labels:
        return labels["app"]
    raise AssertionError(f"an egress peer that is none of the known ones: {peer}")


def egress_of(app: str) -> dict[str, set[int]]:
    """Every peer the policies let pods labelled app=<app> reach, with the ports."""
    reached: dict[str, set[int]] = {}
    for policy in of_kind("NetworkPolicy"):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector and selector != {"app": app}:
            continue
        for rule in policy["spec"].get("egress", []):
            ports = {port["port"] for port in rule.get("ports", [])}
            assert rule.get("to") and ports, (
                f"{policy['metadata']['name']}: egress to anything or on any port"
            )
            for peer in rule["to"]:
                reached.setdefault(peer_name(peer, ports), set()).update(ports)
    return reached


def test_everything_not_allowed_is_denied():
    deny = [doc for doc in of_kind("NetworkPolicy") if doc["spec"]["podSelector"] == {}]
    assert any(
        set(doc["spec"]["policyTypes"]) == {"Ingress", "Egress"} and not doc["spec"].get("ingress")
        for doc in deny
    )


@pytest.mark.parametrize("app", sorted(ALLOWED_PEERS))
def test_network_policies_let_each_workload_reach_only_its_peers(app):
    reached = egress_of(app)
    assert set(reached) == ALLOWED_PEERS[app] | {"dns"}
    for peer, ports in reached.items():
        expected = {5432} if peer.endswith("-db") else PEER_PORTS.get(peer) or service_target_ports(peer)
        assert ports <= expected, f"{app} reaches {peer} on {ports}, its Service sends to {expected}"


def service_target_ports(app: str) -> set[int]:
    """The pod ports the Services in front of app=<app> send their traffic to (a named targetPort
    resolved through the pods' containers)."""
    named = {
        port.get("name"): port["containerPort"]
        for name, template in workloads()
        if template["metadata"]["labels"].get("app") == app
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
    }
    return {
        named[port["targetPort"]] if isinstance(port["targetPort"], str) else port["targetPort"]
        for service in of_kind("Service")
        if service["spec"]["selector"] == {"app": app}
        for port in service["spec"]["ports"]
    }


def monitoring_may_reach(app: str, port: int) -> bool:
    """True when a policy lets Prometheus (the monitoring namespace, or anyone) reach app's pods on port."""
    for policy in of_kind("NetworkPolicy"):
        if policy["spec"]["podSelector"].get("matchLabels") != {"app": app}:
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {entry["port"] for entry in rule.get("ports", [])}
            sources = rule.get("from", [])
            from_monitoring = not sources or any(
                source.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                == "monitoring"
                for source in sources
            )
            if port in ports and from_monitoring:
                return True
    return False


def scraped_workloads() -> list[tuple[str, int, dict]]:  # type: ignore[type-arg]
    """(app, metrics port, pod template) of every workload Prometheus is told to scrape."""
    return [
        (template["metadata"]["labels"]["app"], int(annotations["prometheus.io/port"]), template)
        for _, template in workloads()
        if (annotations := template["metadata"].get("annotations", {})).get("prometheus.io/scrape") == "true"
    ]


def test_every_process_with_metrics_is_scraped_and_reachable_by_prometheus():
    """Relays and workers serve /metrics on a port of their own: Prometheus must be told, and let in."""
    scraped = {app for app, _, _ in scraped_workloads()}
    assert {
        "identity-relay",
        "newsletter-relay",
        "newsletter-worker",
        "mailer-worker",
        "catalogue-worker",
        "catalogue-relay",
        "catalogue-transcoder",
    } <= scraped
    for app, port, _ in scraped_workloads():
        assert monitoring_may_reach(app, port), f"{app}: Prometheus cannot reach port {port}"


def test_metrics_served_on_their_own_port_listen_beyond_the_pod():
    config = next(doc for doc in of_kind("ConfigMap") if doc["metadata"]["name"] == "accounts-config")["data"]
    hosts = {name: value for name, value in config.items() if name.endswith("_METRICS_HOST")}
    assert set(hosts) == {
        "IDENTITY_RELAY_METRICS_HOST",
        "IDENTITY_AUDIT_LOG_METRICS_HOST",
        "MAILER_WORKER_METRICS_HOST",
        "NEWSLETTER_WORKER_METRICS_HOST",
        "NEWSLETTER_RELAY_METRICS_HOST",
        "CATALOGUE_WORKER_METRICS_HOST",
        "CATALOGUE_RELAY_METRICS_HOST",
        "CATALOGUE_TRANSCODER_METRICS_HOST",
    }
    assert set(hosts.values()) == {"0.0.0.0"}


def test_the_bounce_reader_watches_a_maildir_the_mail_server_can_write_too():
    """`mailer bounces` reads the Maildir the MTA delivers the bounce address to: a shared volume."""
    deployment = next(doc for doc in of_kind("Deployment") if doc["metadata"]["name"] == "mailer-bounces")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    command = container["command"]
    assert command[:2] == ["mailer", "bounces"] and float(command[command.index("--watch") + 1]) > 0
    maildir = Path(command[command.index("--maildir") + 1])
    [mount] = [m for m in container["volumeMounts"] if maildir.is_relative_to(m["mountPath"])]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    claims = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind("PersistentVolumeClaim")}
    assert claims[volume["persistentVolumeClaim"]["claimName"]]["accessModes"] == ["ReadWriteMany"]
    assert not mount.get("readOnly"), "messages read are filed (new/ to cur/)"
    assert deployment["spec"]["replicas"] == 1


@pytest.mark.parametrize("app", sorted(app for app, peers in ALLOWED_PEERS.items() if "kafka" in peers))
def test_each_workload_that_reaches_kafka_logs_in_as_its_services_user(app):
    users = {doc["metadata"]["name"] for doc in of_kind("KafkaUser")}
    config = {key: value for doc in of_kind("ConfigMap") for key, value in doc["data"].items()}
    [template] = [template for name, template in workloads() if name == app]
    env = {item["name"]: item for item in template["spec"]["containers"][0].get("env", [])}
    service = app.split("-")[0]
    assert config["KAFKA_SECURITY_PROTOCOL"].startswith("SASL")
    assert env["KAFKA_SASL_USERNAME"]["value"] == service and service in users
    password = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": service, "key": "password"}  # the Secret Strimzi makes for the user
