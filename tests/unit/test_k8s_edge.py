"""The public edge of deploy/k8s (edge.yaml): our nginx, not an ingress controller. It serves the
hosts the configuration names over TLS and keeps the client's address; the public services' pods are
reached by it, the services that call them and Prometheus alone."""

import re
import urllib.parse
from pathlib import Path

import pytest

from tests.support.scripts import load_script
from tests.unit.test_k8s_manifests import (
    ALLOWED_PEERS,
    REPO,
    containers,
    of_kind,
    scraped_workloads,
    service_target_ports,
)


def sources(rule: dict) -> set[str]:  # type: ignore[type-arg]
    """Who an ingress rule lets in: pods by their app label, "monitoring" (the namespace), "anyone"."""
    if not rule.get("from"):
        return {"anyone"}
    return {
        peer.get("podSelector", {}).get("matchLabels", {}).get("app")
        or peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
    }


@pytest.mark.parametrize("app", sorted(ALLOWED_PEERS["edge"]))
def test_the_public_services_pods_take_their_port_from_the_edge_their_callers_and_prometheus(app):
    """Not from anyone: the edge is the public entry, and no other namespace's pods reach the services."""
    callers = {caller for caller, peers in ALLOWED_PEERS.items() if app in peers}
    scraped = {port for name, port, _ in scraped_workloads() if name == app}
    assert "edge" in callers
    for port in service_target_ports(app):
        admitted = set().union(
            *(
                sources(rule)
                for policy in of_kind("NetworkPolicy")
                if policy["spec"]["podSelector"].get("matchLabels") == {"app": app}
                for rule in policy["spec"].get("ingress", [])
                if port in {entry["port"] for entry in rule["ports"]}
            )
        )
        assert admitted == callers | ({"monitoring"} if port in scraped else set()), (app, port)


def edge() -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The edge's Deployment and its Service."""
    [deployment] = [doc for doc in of_kind("Deployment") if doc["metadata"]["name"] == "edge"]
    [service] = [doc for doc in of_kind("Service") if doc["spec"]["selector"] == {"app": "edge"}]
    return deployment, service


def accounts_config() -> dict[str, str]:
    return next(doc for doc in of_kind("ConfigMap") if doc["metadata"]["name"] == "accounts-config")["data"]


def test_the_edge_routes_the_public_hosts_of_the_configuration_to_their_services():
    nginx_conf = load_script(REPO / "deploy" / "local" / "nginx_conf.py", "nginx_conf_of_the_edge")
    deployment, _ = edge()
    [container] = containers(deployment["spec"]["template"])
    routes = dict(
        nginx_conf.route(arg.removeprefix("--route="))
        for arg in container["args"]
        if arg.startswith("--route=")
    )
    hosts = {public.name: upstream.removesuffix(":80") for public, upstream in routes.items()}
    assert set(hosts.values()) == {"portal", "identity", "catalogue", "newsletter"}
    assert {service["metadata"]["name"] for service in of_kind("Service")} >= set(hosts.values())
    config = accounts_config()
    public = {"PORTAL_URL": "portal"} | {
        # PORTAL_CATALOGUE_PUBLIC_URL: the catalogue's, as the portal's pages are told it.
        name: name.removesuffix("_PUBLIC_URL").rpartition("_")[2].lower()
        for name in config
        if name.endswith("_PUBLIC_URL")
    }
    assert "CATALOGUE_PUBLIC_URL" in public
    for variable, service in public.items():
        url = urllib.parse.urlsplit(config[variable])
        assert url.scheme == "https" and hosts[url.hostname] == service, variable


def test_the_edge_serves_tls_from_the_secret_and_keeps_the_clients_address():
    deployment, service = edge()
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    [tls] = [arg.removeprefix("--tls=") for arg in container["args"] if arg.startswith("--tls=")]
    [mount] = [
        m
        for m in container["volumeMounts"]
        if all(Path(f).parent == Path(m["mountPath"]) for f in tls.split(":"))
    ]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "accounts-tls"
    # One hop between the client and the services: nginx's, whose X-Forwarded-For the services trust.
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Local"
    config = accounts_config()
    assert {config["IDENTITY_TRUSTED_PROXY_HOPS"], config["PORTAL_TRUSTED_PROXY_HOPS"]} == {"1"}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert f"--health-port={ports['health']}" in container["args"]


def test_the_edge_pauses_before_stopping_and_is_given_the_time_to_drain():
    """In a rollout the pod keeps accepting until the endpoints and the load balancer have let it go,
    then nginx finishes what is in flight: a request may wait on a service for proxy_read_timeout."""
    deployment, _ = edge()
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    sleep, seconds = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep" and 3 <= int(seconds) <= 15
    # The image's base is Debian's, whose coreutils has sleep (a distroless base would not).
    dockerfile = REPO.joinpath("deploy", "containers", "nginx.Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:[0-9.]+-slim$", dockerfile, re.M)
    nginx_blocks = load_script(REPO / "deploy" / "local" / "nginx_blocks.py", "nginx_blocks_of_the_edge")
    [read_timeout] = re.findall(r"proxy_read_timeout (\d+)s;", nginx_blocks.HTTP_BLOCK)
    assert spec["terminationGracePeriodSeconds"] >= int(seconds) + int(read_timeout)


def test_no_ingress_is_left():
    """ingress-nginx, retired in March 2026, is not needed anywhere: the edge is the public entry."""
    assert of_kind("Ingress") == []
    assert not [
        path for path in REPO.joinpath("deploy").rglob("*.yaml") if "nginx.ingress" in path.read_text()
    ]
