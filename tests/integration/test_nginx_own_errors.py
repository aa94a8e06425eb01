"""What nginx refuses before a service sees the request, it answers as the services answer errors:
problem+json with the status it sends. On the portal's port (browsers read it) its HTML pages stay.
The nginx is the generator's (deploy/local/nginx_conf.py), in front of ports nobody listens on: none of
these answers needs a service, and a 502 needs there to be none."""

import json
from collections.abc import Iterator

import pytest

from tests.support.nginx import exchange, start_nginx
from tests.support.processes import free_port

LONG = "a" * 9000  # past nginx's 8 KiB buffers for a request line or a header line
# No line over 8 KiB, but more than nginx's 4 buffers of 8 KiB hold together: its 494 (431) too.
MANY_HEADERS = [f"X-Part-{number}: {'b' * 5000}" for number in range(8)]


@pytest.fixture(scope="module")
def fronts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """nginx's public ports: "api" as a service's, "portal" as the portal's (`--html-port`)."""
    api, portal = free_port(), free_port()
    routes = {api: free_port(), portal: free_port()}
    nginx = start_nginx(tmp_path_factory.mktemp("nginx"), routes, {}, f"--html-port={portal}")
    yield {"api": api, "portal": portal}
    nginx.stop()


def get(path: str, *header_lines: str) -> str:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *header_lines, "Connection: close"]
    return "\r\n".join([*lines, "", ""])


@pytest.mark.parametrize(
    ("request_text", "status", "says"),
    [
        (get("/v1/accounts"), 502, "cannot be reached"),
        (get("/v1/accounts", "Content-Length: 100000000").replace("GET", "POST", 1), 413, "64 MiB"),
        (get("/" + LONG), 414, "URI"),
        (get("/v1/accounts", f"X-Long: {LONG}"), 431, "header line"),
        (get("/v1/accounts", *MANY_HEADERS), 431, "32 KiB in all"),
        ("NOT HTTP AT ALL\r\n\r\n", 400, "malformed"),
    ],
    ids=[
        "unreachable",
        "body-too-large",
        "uri-too-long",
        "header-too-long",
        "headers-too-large",
        "malformed",
    ],
)
def test_nginx_answers_its_own_refusals_as_problems(fronts: dict[str, int], request_text, status, says):
    answer = exchange(fronts["api"], request_text)
    assert (answer.status, answer.content_type) == (status, "application/problem+json")
    problem = json.loads(answer.body)
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert says in problem["detail"]


def test_the_portals_port_keeps_nginxs_html_pages_for_browsers(fronts: dict[str, int]):
    answer = exchange(fronts["portal"], get("/"))
    assert (answer.status, answer.content_type) == (502, "text/html")


def test_the_locations_of_the_problems_are_not_reachable_from_outside(fronts: dict[str, int]):
    assert exchange(fronts["api"], get("/.nginx-problems/502")).status == 404
