"""The nginx in front of the services (deploy/local/nginx_conf.py for `make run`, compose and the
catalogue's pods; the ingress in Kubernetes) holds slow clients: timeouts, buffering, files by
X-Accel-Redirect. Its behaviour is tested in tests/e2e/test_slow_clients.py; these check the shape."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "deploy/local/nginx_conf.py"


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("nginx_conf_under_test", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_times_out_silent_clients_and_buffers_both_ways(tmp_path):
    text = generator().render(tmp_path, [(8002, "127.0.0.1:18002")], {8002: tmp_path / "media"})
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert re.search(rf"^\s*{directive} \d+s;$", text, re.MULTILINE), directive
    assert "proxy_request_buffering on;" in text and "proxy_buffering on;" in text
    assert "listen 127.0.0.1:8002;" in text and "proxy_pass http://127.0.0.1:18002;" in text
    media = re.search(r"location /protected-media/ \{(.*?)\}", text, re.DOTALL)
    assert media and "internal;" in media.group(1) and f"alias {tmp_path / 'media'}/;" in media.group(1)


def test_a_shorter_header_timeout_replaces_that_one_alone_and_the_default_stays_10_s(tmp_path):
    """The slow-client test drops a silent client after 1 s; `make run` keeps 10 s."""
    render = generator().render
    routes = [(8002, "127.0.0.1:18002")]
    default = render(tmp_path, routes, {})
    shorter = render(tmp_path, routes, {}, client_timeouts={"client_header_timeout": "1s"})
    assert "client_header_timeout 10s;" in default and "client_header_timeout 1s;" not in default
    assert shorter == default.replace("client_header_timeout 10s;", "client_header_timeout 1s;")


def test_compose_and_the_ingress_put_nginx_in_front_of_every_public_port():
    services = yaml.safe_load((REPO / "deploy/compose.yaml").read_text())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx", "kafka", "smtp-sink", "prometheus"}  # the web processes only behind nginx
    routes = {arg.split("=", 1)[1].split(":")[0] for arg in services["nginx"]["command"] if "--route" in arg}
    assert routes == {"8000", "8001", "8002", "8003", "8004"}
    ingress, uploads = yaml.safe_load_all((REPO / "deploy/k8s/ingress.yaml").read_text())
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "on"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    # tus uploads alone stream through (the catalogue checks the editor on every request).
    [upload_rule] = uploads["spec"]["rules"]
    assert [path["path"] for path in upload_rule["http"]["paths"]] == ["/v1/uploads/"]
    assert uploads["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    controller = yaml.safe_load((REPO / "deploy/k8s/ingress-nginx-config.yaml").read_text())["data"]
    assert {"client-header-timeout", "client-body-timeout"} <= set(controller)
    assert "send_timeout" in controller["http-snippet"]


def test_nginx_words_its_own_errors_as_problems_except_on_the_portals_port(tmp_path):
    """Their answers are tested in tests/integration/test_nginx_own_errors.py; here, where they go."""
    routes = [(8000, "127.0.0.1:18000"), (8001, "127.0.0.1:18001")]
    text = generator().render(tmp_path, routes, {}, html_ports=frozenset({8000}))
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
