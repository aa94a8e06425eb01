"""The generator's nginx as the Kubernetes edge has it (deploy/k8s/edge.yaml): named servers on one
TLS port, a default server for other host names, a plain port that sends browsers to https and a
health port. Two small HTTP servers stand for the portal and identity; the catalogue's name leads to a
port nobody listens on, for nginx's own 502."""

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.nginx import exchange, self_signed, start_generated_nginx
from tests.support.polling import wait_for
from tests.support.processes import free_port

HOSTS = ("portal.test", "identity.test", "catalogue.test")


class Named(http.server.BaseHTTPRequestHandler):
    """Answers with its server's name and the Host it was asked for."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = f"{self.server.name} {self.headers['Host']}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@dataclass(frozen=True)
class Edge:
    https: int
    http: int
    health: int
    tls: ssl.SSLContext  # trusts the edge's certificate alone, and checks the host name
    access_log: Path


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    folder = tmp_path_factory.mktemp("edge")
    upstreams = []
    for name in ("portal", "identity"):
        upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Named)
        upstream.name = name  # type: ignore[attr-defined]
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        upstreams.append(upstream)
    https, plain, health = free_port(), free_port(), free_port()
    certificate, key = self_signed(folder, *HOSTS)
    ports = [upstream.server_address[1] for upstream in upstreams] + [free_port()]
    arguments = [f"--route={host}@{https}:127.0.0.1:{port}" for host, port in zip(HOSTS, ports, strict=True)]
    arguments += [f"--tls={certificate}:{key}", f"--redirect-port={plain}", f"--health-port={health}"]
    nginx = start_generated_nginx(folder / "nginx", arguments, [https, plain, health])
    yield Edge(
        https, plain, health, ssl.create_default_context(cafile=certificate), folder / "nginx" / "access.log"
    )
    nginx.stop()
    for upstream in upstreams:
        upstream.shutdown()


def request(method: str, host: str, path: str = "/", headers: str = "") -> str:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )


def test_each_host_name_on_the_tls_port_reaches_its_own_service(edge: Edge):
    for host, service in (("portal.test", "portal"), ("identity.test", "identity")):
        answer = exchange(edge.https, request("GET", host), edge.tls, host)
        assert (answer.status, answer.body.decode()) == (200, f"{service} {host}")
        assert answer.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_a_host_name_the_edge_does_not_serve_gets_a_421_problem(edge: Edge):
    for port, tls in ((edge.https, edge.tls), (edge.http, None)):
        answer = exchange(port, request("GET", "elsewhere.test"), tls, "portal.test")
        assert (answer.status, answer.content_type) == (421, "application/problem+json")
        assert json.loads(answer.body)["status"] == 421


def test_nginx_answers_its_own_refusals_as_problems_over_tls_too(edge: Edge):
    answer = exchange(edge.https, request("GET", "catalogue.test"), edge.tls, "catalogue.test")
    assert (answer.status, answer.content_type) == (502, "application/problem+json")
    assert json.loads(answer.body)["status"] == 502


def test_plain_http_sends_a_get_to_https_and_refuses_a_post(edge: Edge):
    redirected = exchange(edge.http, request("GET", "portal.test", "/login?next=%2F"))
    assert (redirected.status, redirected.headers["Location"]) == (301, "https://portal.test/login?next=%2F")
    assert "Strict-Transport-Security" not in redirected.headers, "meaningless over plain HTTP"
    refused = exchange(edge.http, request("POST", "portal.test", "/login"))
    assert (refused.status, refused.content_type) == (403, "application/problem+json")


def test_the_access_log_keeps_the_paths_asked_for_but_not_their_queries_nor_the_referring_page(edge: Edge):
    """Queries carry what no log may keep past an erasure: the email of a support look-up, an unsubscribe
    token, a download link's signature; the page a request came from (the Referer) carries its own."""
    path = "/v1/support/accounts"
    secrets = ("looked.up@example.org", "unsubscribe-token-0123", "console-referrer@example.org")
    referrer = f"Referer: https://portal.test/console/accounts?email={secrets[2]}\r\n"
    asked = f"{path}?email={secrets[0]}&token={secrets[1]}"
    assert (
        exchange(
            edge.https, request("GET", "identity.test", asked, referrer), edge.tls, "identity.test"
        ).status
        == 200
    )

    def logged() -> list[str]:
        lines = edge.access_log.read_text().splitlines() if edge.access_log.exists() else []
        return [line for line in lines if path in line]

    [line] = wait_for(logged, timeout=10, what="the request in the access log")
    assert f'"GET {path} HTTP/1.1" 200' in line
    assert not [secret for secret in secrets if secret in edge.access_log.read_text()]


def test_the_health_port_answers_whatever_the_services_do(edge: Edge):
    answer = exchange(edge.health, request("GET", "10.0.0.7:8081", "/healthz"))
    assert (answer.status, answer.body) == (200, b"ok")
    assert exchange(edge.health, request("GET", "10.0.0.7:8081", "/v1/accounts")).status == 404


def test_no_service_serves_its_metrics_through_nginx(edge: Edge):
    """Prometheus scrapes each process on its own address; through nginx, /metrics (every route's
    counts by status: failed logins, sign-ups, downloads) is nobody's. The rest still goes through."""
    for host in ("portal.test", "identity.test"):
        for path in ("/metrics", "/metrics?name=x", "//metrics", "/%6Detrics", "/v1/../metrics"):
            answer = exchange(edge.https, request("GET", host, path), edge.tls, host)
            assert (answer.status, answer.content_type) == (404, "application/problem+json"), (host, path)
        passed = exchange(edge.https, request("GET", host, "/metricsx"), edge.tls, host)
        assert passed.status == 200
