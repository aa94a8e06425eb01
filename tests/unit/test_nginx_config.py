"""The nginx in front of the services (deploy/local/nginx_conf.py for `make run`, compose, the
catalogue's pods and the Kubernetes edge) holds slow clients: timeouts, buffering, files by
X-Accel-Redirect. Its behaviour is tested in tests/e2e/test_slow_clients.py and
tests/integration/test_nginx_own_errors.py, test_nginx_edge.py; these check the shape."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.nginx import nginx_binary, self_signed
from tests.support.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "deploy/local/nginx_conf.py"


def generator():  # type: ignore[no-untyped-def]
    return load_script(GENERATOR, "nginx_conf_under_test")


def address(port: int, name: str = ""):  # type: ignore[no-untyped-def]
    return generator().Address(port, name)


def test_the_configuration_times_out_silent_clients_and_buffers_both_ways(tmp_path):
    text = generator().render(
        tmp_path, [(address(8002), "127.0.0.1:18002")], {address(8002): tmp_path / "media"}
    )
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert re.search(rf"^\s*{directive} \d+s;$", text, re.MULTILINE), directive
    assert "proxy_request_buffering on;" in text and "proxy_buffering on;" in text
    assert "listen 127.0.0.1:8002;" in text and "proxy_pass http://127.0.0.1:18002;" in text
    media = re.search(r"location /protected-media/ \{(.*?)\}", text, re.DOTALL)
    assert media and "internal;" in media.group(1) and f"alias {tmp_path / 'media'}/;" in media.group(1)


def test_a_shorter_header_timeout_replaces_that_one_alone_and_the_default_stays_10_s(tmp_path):
    """The slow-client test drops a silent client after 1 s; `make run` keeps 10 s."""
    render = generator().render
    routes = [(address(8002), "127.0.0.1:18002")]
    default = render(tmp_path, routes, {})
    shorter = render(tmp_path, routes, {}, client_timeouts={"client_header_timeout": "1s"})
    assert "client_header_timeout 10s;" in default and "client_header_timeout 1s;" not in default
    assert shorter == default.replace("client_header_timeout 10s;", "client_header_timeout 1s;")


def test_compose_puts_nginx_in_front_of_every_public_port():
    services = yaml.safe_load((REPO / "deploy/compose.yaml").read_text())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx", "kafka", "smtp-sink", "prometheus"}  # the web processes only behind nginx
    routes = {arg.split("=", 1)[1].split(":")[0] for arg in services["nginx"]["command"] if "--route" in arg}
    assert routes == {"8000", "8001", "8002", "8003", "8004"}


def test_nginx_words_its_own_errors_as_problems_except_on_the_portals_port(tmp_path):
    """Their answers are tested in tests/integration/test_nginx_own_errors.py; here, where they go."""
    routes = [(address(8000), "127.0.0.1:18000"), (address(8001), "127.0.0.1:18001")]
    text = generator().render(tmp_path, routes, {}, html=frozenset({address(8000)}))
    portal, identity = text.split("    server {")[1:]
    assert "error_page" not in portal
    for code, status in {400: 400, 413: 413, 414: 414, 494: 431, 502: 502, 504: 504}.items():
        page = re.search(rf"error_page {code} ={status} (\S+);", identity)
        assert page, code
        body = re.search(rf"location = {page.group(1)} \{{.*?return {status} '(.*?)';", identity, re.DOTALL)
        assert body and json.loads(body.group(1))["status"] == status


def test_compose_and_make_run_keep_html_error_pages_on_the_portal_alone():
    nginx = yaml.safe_load((REPO / "deploy/compose.yaml").read_text())["services"]["nginx"]
    assert [arg for arg in nginx["command"] if arg.startswith("--html-port")] == ["--html-port=8000"]
    assert '--html-port "$PORTAL_PORT"' in (REPO / "deploy/local/run.sh").read_text()


def test_a_body_nginx_would_read_otherwise_than_written_is_refused():
    """In nginx.conf the body sits between single quotes: ' ends it, \\ escapes, $ names a variable."""
    problem = generator().problem
    for detail in ("The URI's too long.", "It costs $5.", "Trop long : « é »."):  # json.dumps writes \\u00e9
        with pytest.raises(ValueError):
            problem(400, detail)


def test_a_server_is_a_port_or_a_host_name_on_a_port():
    nginx_conf = generator()
    assert nginx_conf.route("8002:18002") == (address(8002), "127.0.0.1:18002")
    assert nginx_conf.route("8002:catalogue-web:8002") == (address(8002), "catalogue-web:8002")
    named = nginx_conf.route("portal.example.org@8443:portal:80")
    assert named == (address(8443, "portal.example.org"), "portal:80")
    assert nginx_conf.media("catalogue.example.org@8443:/media")[0] == address(8443, "catalogue.example.org")


def servers(text: str) -> list[str]:
    return re.findall(r"^    server \{\n(.*?)^    \}\n", text, re.MULTILINE | re.DOTALL)


def edge(tmp_path: Path, *options: str) -> str:
    """The configuration of two named servers on one port, as the Kubernetes edge has them."""
    routes = ["--route=portal.example.org@8443:portal:80", "--route=identity.example.org@8443:identity:80"]
    generator().main(["--prefix", str(tmp_path), *routes, *options])
    return (tmp_path / "nginx.conf").read_text()


def test_servers_for_any_host_name_stay_one_a_port_in_plain_http(tmp_path):
    """`make run`, compose and the catalogue's pods pass what they passed before: nothing changes."""
    routes = [(address(8000), "127.0.0.1:18000"), (address(8001), "127.0.0.1:18001")]
    text = generator().render(tmp_path, routes, {})
    assert len(servers(text)) == 2
    assert not {"server_name", "default_server", "ssl", "healthz"} & set(re.findall(r"[a-z_]+", text))


def test_named_servers_share_a_port_and_a_host_name_neither_has_gets_a_421_problem(tmp_path):
    portal, identity, default = servers(edge(tmp_path))
    assert "server_name portal.example.org;" in portal and "proxy_pass http://portal:80;" in portal
    assert "server_name identity.example.org;" in identity and "proxy_pass http://identity:80;" in identity
    assert "listen 127.0.0.1:8443 default_server;" in default
    assert "proxy_pass" not in default and "server_name" not in default
    body = re.search(r"return 421 '(.*?)';", default)
    assert body and json.loads(body.group(1))["status"] == 421
    assert "error_page 413 =413" in default, "its own refusals are problems there too"


def test_tls_makes_every_routes_port_tls_1_2_and_1_3(tmp_path):
    text = edge(tmp_path, "--tls=/etc/tls/tls.crt:/etc/tls/tls.key")
    assert [server.split(";")[0].strip() for server in servers(text)] == ["listen 127.0.0.1:8443 ssl"] * 2 + [
        "listen 127.0.0.1:8443 ssl default_server"
    ]
    assert "ssl_certificate /etc/tls/tls.crt;" in text and "ssl_certificate_key /etc/tls/tls.key;" in text
    assert re.findall(r"ssl_protocols (.*);", text) == ["TLSv1.2 TLSv1.3"]


def test_the_tls_servers_alone_tell_browsers_to_keep_to_https(tmp_path):
    hsts = 'add_header Strict-Transport-Security "max-age=63072000" always;'
    tls = servers(edge(tmp_path, "--tls=/etc/tls/tls.crt:/etc/tls/tls.key"))
    assert [hsts in server for server in tls] == [True, True, False], "the sites, not the 421 default"
    assert hsts not in edge(tmp_path)


def test_the_redirect_port_sends_get_and_head_of_the_named_hosts_to_https_and_refuses_the_rest(tmp_path):
    text = edge(tmp_path, "--tls=/etc/tls/tls.crt:/etc/tls/tls.key", "--redirect-port=8080")
    redirect, default = [server for server in servers(text) if "listen 127.0.0.1:8080" in server]
    assert "server_name portal.example.org identity.example.org;" in redirect
    assert "return 301 https://$host$request_uri;" in redirect and "ssl" not in redirect
    refusal = re.search(r"if \(\$request_method !~ \^\(GET\|HEAD\)\$\) \{\s*return 403 '(.*?)';", redirect)
    assert refusal and json.loads(refusal.group(1))["status"] == 403
    assert "default_server" in default and "return 421" in default


def test_the_health_port_answers_without_any_service(tmp_path):
    [health] = [server for server in servers(edge(tmp_path, "--health-port=8081")) if ":8081;" in server]
    assert re.search(r"location = /healthz \{\s*default_type text/plain;\s*return 200 ", health)
    assert "proxy_pass" not in health


def test_uploads_stream_through_on_a_server_without_media(tmp_path):
    portal, identity, _ = servers(edge(tmp_path, "--uploads=identity.example.org@8443"))
    uploads = re.search(r"location /v1/uploads/ \{(.*?)\}", identity, re.DOTALL)
    assert uploads and "proxy_pass http://identity:80;" in uploads.group(1)
    assert {"proxy_request_buffering off;", "client_max_body_size 0;"} <= {
        line.strip() for line in uploads.group(1).splitlines()
    }
    assert "/v1/uploads/" not in portal and "protected-media" not in identity


@pytest.mark.parametrize(
    "arguments",
    [
        ["--route=8443:18000", "--route=portal.example.org@8443:18001"],  # which one has other names?
        ["--route=portal.example.org@8443:18001", "--redirect-port=8080"],  # to https, with no TLS
    ],
    ids=["named-and-unnamed-on-one-port", "redirect-without-tls"],
)
def test_the_generator_refuses_servers_it_could_not_set_up_as_asked(tmp_path, arguments):
    with pytest.raises(SystemExit):
        generator().main(["--prefix", str(tmp_path), *arguments])


def test_nginx_accepts_the_configuration_of_the_kubernetes_edge(tmp_path):
    [deployment] = [
        doc
        for doc in yaml.safe_load_all((REPO / "deploy/k8s/edge.yaml").read_text())
        if doc["kind"] == "Deployment"
    ]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    certificate, key = self_signed(tmp_path, "portal.example.org")
    arguments = [
        f"--tls={certificate}:{key}" if arg.startswith("--tls=") else arg for arg in container["args"]
    ]
    assert arguments != container["args"], "the edge listens with TLS"
    prefix = tmp_path / "nginx"
    generator().main(["--prefix", str(prefix), "--listen-host", "0.0.0.0", *arguments])
    config = prefix / "nginx.conf"
    # The Services' names resolve in the cluster alone, and nginx resolves every upstream as it starts.
    config.write_text(
        re.sub(r"proxy_pass http://[a-z-]+:", "proxy_pass http://127.0.0.1:", config.read_text())
    )
    test = [nginx_binary(), "-t", "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run(test, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
