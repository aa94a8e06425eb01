"""nginx in front of running service processes, configured by the generator `make run` uses
(deploy/local/nginx_conf.py), and the slow clients it must hold for them."""

import contextlib
import datetime
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.polling import wait_for
from tests.support.processes import ServiceProcess

GENERATOR = Path(__file__).resolve().parents[2] / "deploy/local/nginx_conf.py"
MISSING_NGINX = (
    "nginx is missing: `make install` installs Debian's package (as root), or apt-get install nginx"
)


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise AssertionError(MISSING_NGINX)
    return found


def start_nginx(
    prefix: Path, routes: dict[int, int], media: dict[int, Path], *options: str
) -> ServiceProcess:
    """nginx listening on each public port of `routes` and passing to its internal port; `options`
    are the generator's (`--client-header-timeout=1s`)."""
    arguments = [*options, *(f"--route={public}:{internal}" for public, internal in routes.items())]
    arguments += [f"--media={public}:{root}" for public, root in media.items()]
    return start_generated_nginx(prefix, arguments, list(routes))


def start_generated_nginx(prefix: Path, arguments: list[str], ports: list[int]) -> ServiceProcess:
    """nginx on the generator's configuration for these arguments, once it listens on `ports`."""
    argv = [sys.executable, str(GENERATOR), "--prefix", str(prefix), *arguments]
    config = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    binary = nginx_binary()
    nginx = ServiceProcess(
        "nginx", [binary, "-p", str(prefix), "-c", config, "-e", str(prefix / "error.log")], {}, prefix
    )
    nginx.start()
    for port in ports:
        wait_for(lambda port=port: listening(port), timeout=10, what=f"nginx on port {port}")
    return nginx


def self_signed(folder: Path, *names: str) -> tuple[Path, Path]:
    """A throwaway certificate for these host names and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "certificate.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certificate_file, key_file


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers["Content-Type"]


def exchange(port: int, request: str, tls: ssl.SSLContext | None = None, server_name: str = "") -> Answer:
    """Send `request` as it is (nginx must see the odd ones unchanged), over TLS to `server_name` when
    given a context, and read the answer to its end."""
    received = b""
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        if tls:
            client = stack.enter_context(tls.wrap_socket(client, server_hostname=server_name))
        client.sendall(request.encode())
        # After a refused body nginx may reset the connection rather than close it: the answer came first.
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Answer(int(status_line.split(" ")[1]), headers, body)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def slowloris(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each sent part of a request's headers and then nothing."""
    held = []
    for _ in range(count):
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        held[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return held


def unread_downloads(url: str, count: int) -> list[socket.socket]:
    """`count` connections that asked for `url` (a file) and never read a byte of the answer."""
    parts = urllib.parse.urlsplit(url)
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    held = []
    for _ in range(count):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's sends fill it at once
        client.settimeout(5)
        client.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        client.sendall(request)
        held.append(client)
    return held
