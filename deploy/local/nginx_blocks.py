"""The pieces of nginx.conf that deploy/local/nginx_conf.py puts together (its docstring says what
they are for). Each is a str.format template: {{ and }} are nginx's braces."""

X_ACCEL_PREFIX = "/protected-media"
# Long enough for a person on a slow line; short enough that idle sockets do not pile up.
CLIENT_TIMEOUTS = {"client_header_timeout": "10s", "client_body_timeout": "15s", "send_timeout": "30s"}

HTTP_BLOCK = """\
    default_type application/octet-stream;
    # Each request's path without its query, and no Referer: queries hold what no log may keep past an
    # erasure (a support look-up's email, an unsubscribe token, a download link's signature).
    map $request_uri $request_path {{
        ~^(?<path>[^?]*) $path;
    }}
    log_format paths '$remote_addr - $remote_user [$time_local] "$request_method $request_path '
                     '$server_protocol" $status $body_bytes_sent "$http_user_agent"';
    access_log {prefix}/access.log paths;
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

# {listen} is `host:port`, with ` ssl` under --tls; {names} a server_name line for a named server.
# /metrics is not passed on: Prometheus scrapes each process on its own address, never through nginx,
# and every route's counts by status (failed logins, sign-ups, downloads) are nobody else's business.
SERVER_BLOCK = """\
    server {{
        listen {listen};
{names}{hsts}        location / {{
            proxy_pass http://{upstream};
        }}
        location = /metrics {{
            default_type application/problem+json;
            return 404 '{not_found}';
        }}
{problems}{media}    }}
"""

# Mozilla's "intermediate" settings: TLS 1.2 and 1.3, forward-secret AEAD ciphers only. No HTTP/2: with
# the image's nginx (Debian bookworm's 1.22) a body over the limit sent over HTTP/2 gets nginx's HTML 413,
# not the problem+json error_page gives it over HTTP/1.1 (tried with curl --http2).
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
# On a TLS server: browsers that have been there once go straight to https for two years (Mozilla's
# value), so the plain port's redirect is not there to be stripped. Not on plain HTTP, where it means
# nothing; `always`, so that the errors carry it too.
HSTS = '        add_header Strict-Transport-Security "max-age=63072000" always;\n'
TLS_BLOCK = """\
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {ciphers};
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:TLS:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
"""

# On a port whose servers are named, a Host none of them has (a scanner, a stale DNS record) gets
# this server's 421 (RFC 9110: not a combination of scheme and authority this server answers for),
# not the first site's pages.
DEFAULT_SERVER_BLOCK = """\
    server {{
        listen {listen} default_server;
        location / {{
            default_type application/problem+json;
            return 421 '{misdirected}';
        }}
{problems}    }}
"""

# Plain HTTP, for people who type an address: GET and HEAD are sent to https with a 301. Any other
# method is refused, not redirected: its body has already crossed the network in clear, and a 307/308
# would make a client set to http:// work while it keeps doing so.
REDIRECT_BLOCK = """\
    server {{
        listen {host}:{port};
        server_name {names};
        location / {{
            default_type application/problem+json;
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 403 '{https_only}';
            }}
            return 301 https://$host$request_uri;
        }}
    }}
"""

# For the kubelet's probes: answers whenever nginx does, whatever the services behind it are doing.
HEALTH_BLOCK = """\
    server {{
        listen {host}:{port};
        access_log off;
        location = /healthz {{
            default_type text/plain;
            return 200 'ok';
        }}
        location / {{
            return 404;
        }}
    }}
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
# Vary: Authorization on previews and images (what a shared cache may keep depends on it), and the
# catalogue's X-Content-Type-Options and Content-Security-Policy (a file is never sniffed into a page, and
# one opened as a page is sandboxed). An add_header here hides the server's: {hsts} is HSTS again under
# TLS. A file the catalogue lists but the volume has lost is the catalogue's own answer to it, a 503
# problem, not a 404.
MEDIA_BLOCK = """\
        location {x_accel}/ {{
            internal;
            alias {root}/;
            etag off;
            add_header ETag $upstream_http_etag;
            add_header Repr-Digest $upstream_http_repr_digest;
            add_header Vary $upstream_http_vary;
            add_header X-Content-Type-Options $upstream_http_x_content_type_options;
            add_header Content-Security-Policy $upstream_http_content_security_policy;
{hsts}            error_page 403 404 = @file-unavailable;
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
