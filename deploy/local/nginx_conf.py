"""Writes the nginx configuration in front of the services: `make run`'s, compose's, the catalogue pods'
(beside each) and the Kubernetes edge's (deploy/k8s/edge.yaml).

    python deploy/local/nginx_conf.py --prefix .state/nginx --route 8002:18002 --media 8002:/srv/media

A server's ADDRESS is a port (`8002`: any host name on it) or `name@port` (`portal.example.org@8443`:
that host name alone, by Host and TLS SNI). Each route is `ADDRESS:internal port` (the service on
127.0.0.1) or `ADDRESS:host:port` (a container's name in compose, a Service in Kubernetes); nginx
listens on 127.0.0.1 (`--listen-host` to change). nginx, event-driven, holds the slow clients (partial
headers, bodies that trickle, downloads nobody reads) so the services' gunicorn workers only ever meet
whole requests and readers that keep up: requests are buffered before they are passed on, answers are
buffered (to temporary files past the memory buffers) so a worker is free as soon as it has answered,
and a client that stays silent longer than a timeout is dropped. `--media ADDRESS:root` adds the
catalogue's internal `/protected-media/` location (its `CATALOGUE_X_ACCEL_REDIRECT_PREFIX`): nginx then
sends the files itself, ranges included; and its `/v1/uploads/` location, where tus uploads stream
through unbuffered. `--uploads ADDRESS` adds that location alone (the edge, whose catalogue keeps its
files behind the nginx of its pods).

`--tls CERT:KEY` makes every route's port TLS (1.2 and 1.3); on a port whose servers
are all named, a host name none of them has is answered 421 by a default server. `--redirect-port`
adds a plain-HTTP port that sends GET and HEAD for the named hosts to https; `--health-port` one whose
`/healthz` answers 200 whenever nginx runs (for the kubelet's probes: no service behind it).

What nginx refuses itself (a body over the limit, a URI or header line over 8 KiB, headers over 32 KiB
in all, a service it cannot reach) it answers as the services answer errors, with a problem+json body;
on a `--html-port ADDRESS` (the portal, which browsers read) it keeps nginx's own small HTML pages.
"""

import argparse
import getpass
import json
import os
import sys
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple

from nginx_blocks import (
    CIPHERS,
    CLIENT_TIMEOUTS,
    DEFAULT_SERVER_BLOCK,
    HEALTH_BLOCK,
    HSTS,
    HTTP_BLOCK,
    MEDIA_BLOCK,
    OWN_ERRORS,
    PROBLEM_BLOCK,
    REDIRECT_BLOCK,
    SERVER_BLOCK,
    TLS_BLOCK,
    UPLOADS_BLOCK,
    X_ACCEL_PREFIX,
)


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


class Address(NamedTuple):
    """Where a server answers: a port, and the host name it answers for there ("": any)."""

    port: int
    name: str = ""


def address(value: str) -> Address:
    """`8002` → any host name on port 8002; `portal.example.org@8443` → that one alone on 8443."""
    name, _, port = value.rpartition("@")
    return Address(int(port), name)


def route(value: str) -> tuple[Address, str]:
    """`8002:18002` → (8002, "127.0.0.1:18002"); `8002:catalogue-web:8002` → (8002, "catalogue-web:8002");
    `portal.example.org@8443:portal:80` → ((8443, "portal.example.org"), "portal:80")."""
    public, _, upstream = value.partition(":")
    if ":" not in upstream:
        upstream = f"127.0.0.1:{int(upstream)}"
    return address(public), upstream


def media(value: str) -> tuple[Address, Path]:
    public, _, root = value.partition(":")
    return address(public), Path(root).resolve()


def tls(value: str) -> tuple[Path, Path]:
    certificate, _, key = value.partition(":")
    return Path(certificate).resolve(), Path(key).resolve()


# As the catalogue words it.
FILE_UNAVAILABLE = problem(503, "The file is not available right now.", "/problems/file-unavailable")
MISDIRECTED = problem(421, "This server does not answer for this host name.")
HTTPS_ONLY = problem(403, "This address answers over HTTPS: send the request to its https:// address.")
# As a service words it (accounts_common.problems) for an address it does not serve.
NOT_FOUND = problem(
    404,
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again.",
)


def catalogue_locations(upstream: str, media_root: Path | None, uploads: bool, hsts: str = "") -> str:
    """Its files from `media_root` (X-Accel-Redirect), and its tus uploads streamed through: both
    where the files are (`--media`), the uploads alone at the edge (`--uploads`). `hsts` is the
    server's HSTS line under TLS, said again in the files' location (its own add_header hides it)."""
    files = (
        MEDIA_BLOCK.format(
            x_accel=X_ACCEL_PREFIX,
            root=media_root,
            file_unavailable=FILE_UNAVAILABLE,
            hsts=hsts.replace("        ", "            ", 1),
        )
        if media_root
        else ""
    )
    return files + (UPLOADS_BLOCK.format(upstream=upstream) if media_root or uploads else "")


def render(
    prefix: Path,
    routes: list[tuple[Address, str]],
    media_roots: dict[Address, Path],
    *,
    host: str = "127.0.0.1",
    workers: int = 2,
    max_body: str = "64m",
    client_timeouts: dict[str, str] | None = None,
    html: frozenset[Address] = frozenset(),
    uploads: frozenset[Address] = frozenset(),
    certificate: tuple[Path, Path] | None = None,
    redirect_port: int | None = None,
    health_port: int | None = None,
) -> str:
    """The whole nginx.conf: the master runs in the foreground under the caller's user.
    `client_timeouts` replaces some of CLIENT_TIMEOUTS (a test's shorter client_header_timeout);
    on the `html` servers nginx's own errors stay its HTML pages; the `uploads` servers (and those
    with media) stream tus uploads through; `certificate` (and its key) makes every route's port TLS."""
    chosen = {**CLIENT_TIMEOUTS, **(client_timeouts or {})}
    timeouts = "\n".join(f"    {name} {value};" for name, value in chosen.items())
    problems = own_error_problems(max_body)
    ssl = " ssl" if certificate else ""
    servers = "".join(
        SERVER_BLOCK.format(
            listen=f"{host}:{public.port}{ssl}",
            names=f"        server_name {public.name};\n" if public.name else "",
            hsts=HSTS if certificate else "",
            upstream=upstream,
            not_found=NOT_FOUND,
            problems="" if public in html else problems,
            media=catalogue_locations(
                upstream, media_roots.get(public), public in uploads, HSTS if certificate else ""
            ),
        )
        for public, upstream in routes
    )
    named = {public.port for public, _ in routes if public.name}
    servers += "".join(
        DEFAULT_SERVER_BLOCK.format(listen=f"{host}:{port}{ssl}", misdirected=MISDIRECTED, problems=problems)
        for port in sorted(named)
    )
    if redirect_port is not None:
        names = " ".join(public.name for public, _ in routes if public.name)
        servers += REDIRECT_BLOCK.format(host=host, port=redirect_port, names=names, https_only=HTTPS_ONLY)
        servers += DEFAULT_SERVER_BLOCK.format(
            listen=f"{host}:{redirect_port}", misdirected=MISDIRECTED, problems=problems
        )
    if health_port is not None:
        servers += HEALTH_BLOCK.format(host=host, port=health_port)
    if certificate:
        servers = TLS_BLOCK.format(certificate=certificate[0], key=certificate[1], ciphers=CIPHERS) + servers
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
    parser.add_argument("--route", type=route, action="append", required=True, help="ADDRESS:[HOST:]PORT")
    parser.add_argument(
        "--media", type=media, action="append", default=[], help="ADDRESS:ROOT (catalogue files)"
    )
    parser.add_argument(
        "--html-port",
        type=address,
        action="append",
        default=[],
        help="ADDRESS read by browsers (the portal): nginx's own errors there stay HTML pages",
    )
    parser.add_argument(
        "--uploads", type=address, action="append", default=[], help="ADDRESS passing tus uploads through"
    )
    parser.add_argument("--tls", type=tls, help="CERT:KEY (PEM files): every route's port is TLS")
    parser.add_argument("--redirect-port", type=int, help="plain HTTP: GET and HEAD go to https")
    parser.add_argument("--health-port", type=int, help="/healthz answers 200 while nginx runs")
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--client-header-timeout",
        default=CLIENT_TIMEOUTS["client_header_timeout"],
        help="how long a client may stay silent while sending its headers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    named = {public.port for public, _ in args.route if public.name}
    if any(public.port in named and not public.name for public, _ in args.route):
        parser.error("a port's servers are all named, or it has one server for any host name")
    if args.redirect_port is not None and not (args.tls and named):
        parser.error("--redirect-port sends named hosts to https: it needs --tls and named routes")
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
            html=frozenset(args.html_port),
            uploads=frozenset(args.uploads),
            certificate=args.tls,
            redirect_port=args.redirect_port,
            health_port=args.health_port,
        )
    )
    sys.stdout.write(f"{config}\n")


if __name__ == "__main__":
    main()
