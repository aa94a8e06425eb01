"""Writes the nginx configuration that `make run` (and the slow-client test) puts in front of the services.

    python deploy/local/nginx_conf.py --prefix .state/nginx --route 8002:18002 --media 8002:/srv/media

Each route is `public port:internal port` (the service on 127.0.0.1) or `public port:host:port` (a
container's name in compose); nginx listens on 127.0.0.1 (`--listen-host` to change). nginx, event-driven,
holds the slow clients (partial headers, bodies that trickle, downloads nobody reads) so the services'
gunicorn workers only ever meet whole requests and readers that keep up: requests are buffered before
they are passed on, answers are buffered (to temporary files past the memory buffers) so a worker is
free as soon as it has answered, and a client that stays silent longer than a timeout is dropped.
`--media port:root` adds the catalogue's internal `/protected-media/` location (its
`CATALOGUE_X_ACCEL_REDIRECT_PREFIX`): nginx then sends the files itself, ranges included; and its
`/v1/uploads/` location, where tus uploads stream through unbuffered.

What nginx refuses itself (a body over the limit, a URI or header line over 8 KiB, headers over 32 KiB
in all, a service it cannot reach) it answers as the services answer errors, with a problem+json body;
on a `--html-port` (the portal, which browsers read) it keeps nginx's own small HTML pages.
"""

import argparse
import getpass
import json
import os
import sys
from http import HTTPStatus
from pathlib import Path

X_ACCEL_PREFIX = "/protected-media"
# Long enough for a person on a slow line; short enough that idle sockets do not pile up.
CLIENT_TIMEOUTS = {"client_header_timeout": "10s", "client_body_timeout": "15s", "send_timeout": "30s"}

HTTP_BLOCK = """\
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
{timeouts}
    keepalive_timeout 15s;
    reset_timedout_connection on;
    client_max_body_size {max_body};
    client_body_buffer_size 64k;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    proxy_http_version 1.1;
    proxy_request_buffering on;
    proxy_buffering on;
    proxy_buffers 16 16k;
    proxy_max_temp_file_size 64m;
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Connection "";
"""

SERVER_BLOCK = """\
    server {{
        listen {host}:{public};
        location / {{
            proxy_pass http://{upstream};
        }}
{problems}{media}    }}
"""

# The errors nginx answers without the service, in accounts_common.problems' shape (type about:blank,
# as a service says them). 494 is nginx's own code for a header line too long, or headers that do not
# fit its 4 buffers of 8 KiB together (large_client_header_buffers); the client gets 431.
OWN_ERRORS = {
    400: (400, "The request is malformed."),
    413: (413, "The request body is larger than this address accepts ({max_body})."),
    414: (414, "The URI of the request is longer than 8 KiB."),
    494: (431, "The headers of the request are too large: a header line over 8 KiB, or about 32 KiB in all."),
    502: (502, "The service behind this address cannot be reached right now. Try again in a moment."),
    504: (504, "The service behind this address did not answer in time. Try again in a moment."),
}
# A URI, not a named location: nginx cannot redirect a request whose line it could not read (414, 400)
# to a named one.
PROBLEM_BLOCK = """\
        error_page {code} ={status} /.nginx-problems/{code};
        location = /.nginx-problems/{code} {{
            internal;
            default_type application/problem+json;
            return {status} '{body}';
        }}
"""

# nginx keeps the catalogue's Content-Type, Content-Disposition, Cache-Control and Accept-Ranges, but
# drops its other headers: the ETag must be the catalogue's (the file's SHA-256), not nginx's
# modification-time one, Repr-Digest (RFC 9530, the stored SHA-256) must reach the client, and so must
# Vary: Authorization on previews and images (what a shared cache may keep depends on it). A file the
# catalogue lists but the volume has lost is the catalogue's own answer to it, a 503 problem, not a 404.
MEDIA_BLOCK = """\
        location {x_accel}/ {{
            internal;
            alias {root}/;
            etag off;
            add_header ETag $upstream_http_etag;
            add_header Repr-Digest $upstream_http_repr_digest;
            add_header Vary $upstream_http_vary;
            error_page 403 404 = @file-unavailable;
        }}
        location @file-unavailable {{
            default_type application/problem+json;
            return 503 '{file_unavailable}';
        }}
"""


# tus uploads (editors only, behind the catalogue's role check) stream through: a PATCH of gigabytes is
# neither capped nor spooled to nginx's disk first, and what arrived before a cut reaches the catalogue,
# which keeps it as the upload's offset. A slow editor holds one of the catalogue's threads, not a worker.
UPLOADS_BLOCK = """\
        location /v1/uploads/ {{
            proxy_pass http://{upstream};
            proxy_request_buffering off;
            client_max_body_size 0;
            client_body_timeout 60s;
            proxy_read_timeout 300s;
        }}
"""


def readable_size(size: str) -> str:
    """nginx's `64m` as a person reads it: 64 MiB."""
    units = {"k": "KiB", "m": "MiB", "g": "GiB"}
    return f"{size[:-1]} {units[size[-1].lower()]}" if size[-1:].lower() in units else f"{size} bytes"


def problem(status: int, detail: str, problem_type: str = "about:blank") -> str:
    """A problem+json body as a service words it (accounts_common.problems.problem_response)."""
    body = json.dumps(
        {"type": problem_type, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    )
    # It goes between single quotes in nginx.conf, where ' ends it, \ escapes and $ names a variable.
    if any(character in body for character in "'\\$"):
        raise ValueError(f"{body} cannot be written as it is in nginx.conf")
    return body


def own_error_problems(max_body: str) -> str:
    """The error_page locations that answer nginx's own errors as problem+json."""
    return "".join(
        PROBLEM_BLOCK.format(
            code=code, status=status, body=problem(status, detail.format(max_body=readable_size(max_body)))
        )
        for code, (status, detail) in OWN_ERRORS.items()
    )


def route(value: str) -> tuple[int, str]:
    """`8002:18002` → (8002, "127.0.0.1:18002"); `8002:catalogue-web:8002` → (8002, "catalogue-web:8002")."""
    public, _, upstream = value.partition(":")
    if ":" not in upstream:
        upstream = f"127.0.0.1:{int(upstream)}"
    return int(public), upstream


def media(value: str) -> tuple[int, Path]:
    public, _, root = value.partition(":")
    return int(public), Path(root).resolve()


# As the catalogue words it.
FILE_UNAVAILABLE = problem(503, "The file is not available right now.", "/problems/file-unavailable")


def render(
    prefix: Path,
    routes: list[tuple[int, str]],
    media_roots: dict[int, Path],
    *,
    host: str = "127.0.0.1",
    workers: int = 2,
    max_body: str = "64m",
    client_timeouts: dict[str, str] | None = None,
    html_ports: frozenset[int] = frozenset(),
) -> str:
    """The whole nginx.conf: the master runs in the foreground under the caller's user.
    `client_timeouts` replaces some of CLIENT_TIMEOUTS (a test's shorter client_header_timeout);
    on `html_ports` nginx's own errors stay its HTML pages."""
    chosen = {**CLIENT_TIMEOUTS, **(client_timeouts or {})}
    timeouts = "\n".join(f"    {name} {value};" for name, value in chosen.items())
    problems = own_error_problems(max_body)
    servers = "".join(
        SERVER_BLOCK.format(
            host=host,
            public=public,
            upstream=upstream,
            problems="" if public in html_ports else problems,
            media=MEDIA_BLOCK.format(
                x_accel=X_ACCEL_PREFIX, root=media_roots[public], file_unavailable=FILE_UNAVAILABLE
            )
            + UPLOADS_BLOCK.format(upstream=upstream)
            if public in media_roots
            else "",
        )
        for public, upstream in routes
    )
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nworker_processes {workers};\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\n"
        "events {\n    worker_connections 1024;\n}\n"
        f"http {{\n{HTTP_BLOCK.format(prefix=prefix, timeouts=timeouts, max_body=max_body)}{servers}}}\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--prefix", type=Path, required=True, help="folder for nginx.conf, logs, pid, temp files"
    )
    parser.add_argument("--route", type=route, action="append", required=True, help="PUBLIC:[HOST:]PORT")
    parser.add_argument(
        "--media", type=media, action="append", default=[], help="PUBLIC:ROOT (catalogue files)"
    )
    parser.add_argument(
        "--html-port",
        type=int,
        action="append",
        default=[],
        help="PUBLIC port read by browsers (the portal): nginx's own errors there stay HTML pages",
    )
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--client-header-timeout",
        default=CLIENT_TIMEOUTS["client_header_timeout"],
        help="how long a client may stay silent while sending its headers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    prefix = args.prefix.resolve()
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / folder).mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(
        render(
            prefix,
            args.route,
            dict(args.media),
            host=args.listen_host,
            workers=args.workers,
            client_timeouts={"client_header_timeout": args.client_header_timeout},
            html_ports=frozenset(args.html_port),
        )
    )
    sys.stdout.write(f"{config}\n")


if __name__ == "__main__":
    main()
