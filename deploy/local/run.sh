#!/usr/bin/env bash
# `make run`: the local infrastructure and every service process, until Ctrl-C.
# Logs of the services go to .state/logs/<process>.log.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN="$REPO_ROOT/.venv/bin"
LOGS="$STATE_ROOT/logs"
# Public ports (nginx, the only listener clients meet) and the internal ports of the services behind it.
PORTAL_PORT="${PORTAL_PORT:-8000}"
IDENTITY_PORT="${IDENTITY_PORT:-8001}"
CATALOGUE_PORT="${CATALOGUE_PORT:-8002}"
NEWSLETTER_PORT="${NEWSLETTER_PORT:-8003}"
MAILER_PORT="${MAILER_PORT:-8004}"
PORTAL_INTERNAL_PORT="${PORTAL_INTERNAL_PORT:-18000}"
IDENTITY_INTERNAL_PORT="${IDENTITY_INTERNAL_PORT:-18001}"
CATALOGUE_INTERNAL_PORT="${CATALOGUE_INTERNAL_PORT:-18002}"
NEWSLETTER_INTERNAL_PORT="${NEWSLETTER_INTERNAL_PORT:-18003}"
MAILER_INTERNAL_PORT="${MAILER_INTERNAL_PORT:-18004}"
NGINX_STATE="$STATE_ROOT/nginx"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
MAILER_METRICS_PORT="${MAILER_WORKER_METRICS_PORT:-9104}"
IDENTITY_RELAY_METRICS_PORT="${IDENTITY_RELAY_METRICS_PORT:-9101}"
NEWSLETTER_RELAY_METRICS_PORT="${NEWSLETTER_RELAY_METRICS_PORT:-9102}"
NEWSLETTER_WORKER_METRICS_PORT="${NEWSLETTER_WORKER_METRICS_PORT:-9103}"
CATALOGUE_WORKER_METRICS_PORT="${CATALOGUE_WORKER_METRICS_PORT:-9106}"
CATALOGUE_RELAY_METRICS_PORT="${CATALOGUE_RELAY_METRICS_PORT:-9107}"
CATALOGUE_TRANSCODER_METRICS_PORT="${CATALOGUE_TRANSCODER_METRICS_PORT:-9108}"
IDENTITY_AUDIT_LOG_METRICS_PORT="${IDENTITY_AUDIT_LOG_METRICS_PORT:-9110}"
POSTGRES_EXPORTER_PORT="${POSTGRES_EXPORTER_PORT:-9187}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
export IDENTITY_RELAY_METRICS_PORT NEWSLETTER_RELAY_METRICS_PORT NEWSLETTER_WORKER_METRICS_PORT CATALOGUE_WORKER_METRICS_PORT
export IDENTITY_AUDIT_LOG_METRICS_PORT CATALOGUE_RELAY_METRICS_PORT CATALOGUE_TRANSCODER_METRICS_PORT
# The portal calls the services on their internal ports; what a browser follows is public.
export PORTAL_IDENTITY_URL="${PORTAL_IDENTITY_URL:-http://127.0.0.1:$IDENTITY_INTERNAL_PORT}"
export PORTAL_MAILER_URL="${PORTAL_MAILER_URL:-http://127.0.0.1:$MAILER_INTERNAL_PORT}"
export PORTAL_CATALOGUE_URL="${PORTAL_CATALOGUE_URL:-http://127.0.0.1:$CATALOGUE_INTERNAL_PORT}"
export PORTAL_NEWSLETTER_URL="${PORTAL_NEWSLETTER_URL:-http://127.0.0.1:$NEWSLETTER_INTERNAL_PORT}"

export PORTAL_URL="${PORTAL_URL:-http://127.0.0.1:$PORTAL_PORT}"
# nginx adds the client's address to X-Forwarded-For: one proxy hop to trust.
export IDENTITY_TRUSTED_PROXY_HOPS="${IDENTITY_TRUSTED_PROXY_HOPS:-1}"
export PORTAL_TRUSTED_PROXY_HOPS="${PORTAL_TRUSTED_PROXY_HOPS:-1}"
# Local development only; set a real one wherever operators are more than you.
export CATALOGUE_PUBLIC_URL="${CATALOGUE_PUBLIC_URL:-http://127.0.0.1:$CATALOGUE_PORT}"
# The pages' Content-Security-Policy lets images, previews and downloads come from there alone.
export PORTAL_CATALOGUE_PUBLIC_URL="${PORTAL_CATALOGUE_PUBLIC_URL:-$CATALOGUE_PUBLIC_URL}"
export CATALOGUE_STORAGE_ROOT="${CATALOGUE_STORAGE_ROOT:-$STATE_ROOT/catalogue-media}"
export CATALOGUE_UPLOAD_ROOT="${CATALOGUE_UPLOAD_ROOT:-$STATE_ROOT/catalogue-uploads}"
export IDENTITY_JWKS_URL="${IDENTITY_JWKS_URL:-http://127.0.0.1:$IDENTITY_INTERNAL_PORT/.well-known/jwks.json}"
# The catalogue checks each download link and hands the file to nginx (see start_nginx).
export CATALOGUE_X_ACCEL_REDIRECT_PREFIX="${CATALOGUE_X_ACCEL_REDIRECT_PREFIX:-/protected-media}"

declare -A PIDS=()
started=""
postgres_exporter=""  # "yes" once run.sh started PostgreSQL's exporter (start_prometheus)

start_process() {
    local name=$1
    shift
    # A session of its own: Ctrl-C reaches only this script, which stops the processes in order.
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    PIDS[$name]=$!
    log "started $name (pid ${PIDS[$name]}, log $LOGS/$name.log)"
}

stop_everything() {
    trap - INT TERM EXIT
    log "stopping"
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n $started ]]; then
        # shellcheck disable=SC2086 # one word per component
        bash "$SCRIPT_DIR/infra.sh" down $started
    fi
    log "stopped"
}

wait_ready() {
    local url=$1 name=$2
    for _ in $(seq 1 300); do
        if "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "$url" 2>/dev/null; then
            return 0
        fi
        kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -n 30 "$LOGS/$name.log" >&2; return 1; }
        sleep 0.2
    done
    log "$name did not become ready at $url"
    return 1
}

# --- Prometheus: scrapes every process above on its own port (never through a proxy) ----------
scrape_targets() {
    printf '%s\n' \
        "identity-web=127.0.0.1:$IDENTITY_INTERNAL_PORT" "identity-relay=127.0.0.1:$IDENTITY_RELAY_METRICS_PORT" \
        "identity-audit-log=127.0.0.1:$IDENTITY_AUDIT_LOG_METRICS_PORT" \
        "mailer-web=127.0.0.1:$MAILER_INTERNAL_PORT" "mailer-worker=127.0.0.1:$MAILER_METRICS_PORT" \
        "mailer-worker=127.0.0.1:$((MAILER_METRICS_PORT + 1))" \
        "catalogue-web=127.0.0.1:$CATALOGUE_INTERNAL_PORT" "catalogue-worker=127.0.0.1:$CATALOGUE_WORKER_METRICS_PORT" \
        "catalogue-relay=127.0.0.1:$CATALOGUE_RELAY_METRICS_PORT" \
        "catalogue-transcoder=127.0.0.1:$CATALOGUE_TRANSCODER_METRICS_PORT" \
        "newsletter-web=127.0.0.1:$NEWSLETTER_INTERNAL_PORT" "newsletter-worker=127.0.0.1:$NEWSLETTER_WORKER_METRICS_PORT" \
        "newsletter-relay=127.0.0.1:$NEWSLETTER_RELAY_METRICS_PORT" "portal-web=127.0.0.1:$PORTAL_INTERNAL_PORT"
    if [[ -n $postgres_exporter ]]; then echo "postgres=127.0.0.1:$POSTGRES_EXPORTER_PORT"; fi
}

# True, saying so, if PORT is taken: Debian's prometheus packages enable their services, which start at
# boot (make install disables them, on machines it installs them on), and any process of the stack
# that fails stops the stack.
#   monitoring_port_taken PORT VARIABLE UNIT WHAT
monitoring_port_taken() {
    port_open 127.0.0.1 "$1" || return 1
    log "port $1 is taken (systemctl disable --now $3, or set $2): $4"
}

start_prometheus() {
    local dir="$STATE_ROOT/prometheus"
    if ! command -v prometheus >/dev/null; then
        log "no Prometheus (make install as root installs Debian's): the stack runs unwatched"
        return 0
    fi
    monitoring_port_taken "$PROMETHEUS_PORT" PROMETHEUS_PORT prometheus "the stack runs unwatched" && return 0
    mkdir -p "$dir"
    if command -v prometheus-postgres-exporter >/dev/null && ! monitoring_port_taken "$POSTGRES_EXPORTER_PORT" \
        POSTGRES_EXPORTER_PORT prometheus-postgres-exporter "PostgreSQL is not scraped"; then
        postgres_exporter=yes
        start_process postgres-exporter env DATA_SOURCE_NAME="$DATABASE_URL?sslmode=disable" \
            prometheus-postgres-exporter --web.listen-address="127.0.0.1:$POSTGRES_EXPORTER_PORT"
    fi
    # shellcheck disable=SC2046 # one target per word
    "$BIN/python" "$REPO_ROOT/deploy/observability/scrape_config.py" $(scrape_targets) >"$dir/prometheus.yml"
    start_process prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    wait_ready "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" prometheus
}

# nginx in front of every public port: slow clients wait in its event loop, never in a gunicorn worker.
start_nginx() {
    local config
    config="$("$BIN/python" "$SCRIPT_DIR/nginx_conf.py" --prefix "$NGINX_STATE" \
        --route "$PORTAL_PORT:$PORTAL_INTERNAL_PORT" --route "$IDENTITY_PORT:$IDENTITY_INTERNAL_PORT" \
        --route "$CATALOGUE_PORT:$CATALOGUE_INTERNAL_PORT" --route "$NEWSLETTER_PORT:$NEWSLETTER_INTERNAL_PORT" \
        --route "$MAILER_PORT:$MAILER_INTERNAL_PORT" --media "$CATALOGUE_PORT:$CATALOGUE_STORAGE_ROOT" \
        --html-port "$PORTAL_PORT")"
    start_process nginx "$NGINX" -p "$NGINX_STATE" -c "$config" -e "$NGINX_STATE/error.log"
}

on_signal() {
    stop_everything
    exit 0
}

# Refuse to start, naming them, when ports the processes below listen on are taken (a `make run`
# already running, another program): else the stack started, its readiness checks were answered by
# whatever held the public ports, and it stopped at once as its first process failed to listen.
# Prometheus and its exporter are optional: start_prometheus does without them.
check_ports_free() {
    local pair taken=()
    for pair in "PORTAL_PORT=$PORTAL_PORT" "IDENTITY_PORT=$IDENTITY_PORT" "CATALOGUE_PORT=$CATALOGUE_PORT" \
        "NEWSLETTER_PORT=$NEWSLETTER_PORT" "MAILER_PORT=$MAILER_PORT" "PORTAL_INTERNAL_PORT=$PORTAL_INTERNAL_PORT" \
        "IDENTITY_INTERNAL_PORT=$IDENTITY_INTERNAL_PORT" "CATALOGUE_INTERNAL_PORT=$CATALOGUE_INTERNAL_PORT" \
        "NEWSLETTER_INTERNAL_PORT=$NEWSLETTER_INTERNAL_PORT" "MAILER_INTERNAL_PORT=$MAILER_INTERNAL_PORT" \
        "MAILER_WORKER_METRICS_PORT=$MAILER_METRICS_PORT" "MAILER_WORKER_METRICS_PORT+1=$((MAILER_METRICS_PORT + 1))" \
        "IDENTITY_RELAY_METRICS_PORT=$IDENTITY_RELAY_METRICS_PORT" \
        "IDENTITY_AUDIT_LOG_METRICS_PORT=$IDENTITY_AUDIT_LOG_METRICS_PORT" \
        "NEWSLETTER_RELAY_METRICS_PORT=$NEWSLETTER_RELAY_METRICS_PORT" \
        "NEWSLETTER_WORKER_METRICS_PORT=$NEWSLETTER_WORKER_METRICS_PORT" \
        "CATALOGUE_WORKER_METRICS_PORT=$CATALOGUE_WORKER_METRICS_PORT" \
        "CATALOGUE_RELAY_METRICS_PORT=$CATALOGUE_RELAY_METRICS_PORT" \
        "CATALOGUE_TRANSCODER_METRICS_PORT=$CATALOGUE_TRANSCODER_METRICS_PORT"; do
        if port_open 127.0.0.1 "${pair##*=}"; then taken+=("$pair"); fi
    done
    if (( ${#taken[@]} > 0 )); then
        die "ports taken: ${taken[*]} (is a make run already running? else set those variables to free ports)"
    fi
}

main() {
    check_ports_free
    mkdir -p "$LOGS"
    trap stop_everything EXIT
    trap on_signal INT TERM
    started="$(bash "$SCRIPT_DIR/infra.sh" up)"
    eval "$(bash "$SCRIPT_DIR/infra.sh" env)"
    "$BIN/identity" migrate
    "$BIN/mailer" migrate
    "$BIN/newsletter" migrate
    "$BIN/catalogue" migrate
    # With CATALOGUE_STORAGE=s3://catalogue-media the files go to the local S3Proxy's bucket.
    "$BIN/catalogue" storage-init
    # The sample videos, rendered with ffmpeg the first time (later starts find them in place).
    "$BIN/catalogue" seed || log "no sample videos: see the message above (the catalogue starts empty)"
    start_process identity-web "$BIN/identity" web --port "$IDENTITY_INTERNAL_PORT"
    start_process identity-relay "$BIN/identity" relay
    start_process identity-audit-log "$BIN/identity" audit-log
    # Two mailer workers share the partitions: one SMTP conversation at a time each is the
    # newsletter's ceiling (bench/newsletter_fanout.py).
    start_process mailer-worker "$BIN/mailer" worker
    start_process mailer-worker-2 env MAILER_WORKER_METRICS_PORT="$((MAILER_METRICS_PORT + 1))" "$BIN/mailer" worker
    start_process mailer-web "$BIN/mailer" web --port "$MAILER_INTERNAL_PORT"
    # The bounce mailbox: the SMTP sink's DSNs (a `dsn` fault), as a production mail server's would be.
    start_process mailer-bounces "$BIN/mailer" bounces --maildir "$STATE_ROOT/smtp-sink/bounces" --watch 5
    start_process catalogue-web "$BIN/catalogue" web --port "$CATALOGUE_INTERNAL_PORT"
    start_process catalogue-worker "$BIN/catalogue" worker
    start_process catalogue-relay "$BIN/catalogue" relay
    start_process catalogue-transcoder "$BIN/catalogue" transcoder
    start_process newsletter-web "$BIN/newsletter" web --port "$NEWSLETTER_INTERNAL_PORT"
    start_process newsletter-worker "$BIN/newsletter" worker
    start_process newsletter-relay "$BIN/newsletter" relay
    start_process portal-web "$BIN/portal" web --port "$PORTAL_INTERNAL_PORT"
    start_nginx
    wait_ready "http://127.0.0.1:$IDENTITY_PORT/readyz" identity-web
    wait_ready "http://127.0.0.1:$MAILER_PORT/readyz" mailer-web
    wait_ready "http://127.0.0.1:$CATALOGUE_PORT/readyz" catalogue-web
    wait_ready "http://127.0.0.1:$NEWSLETTER_PORT/readyz" newsletter-web
    wait_ready "http://127.0.0.1:$PORTAL_PORT/healthz" portal-web
    start_prometheus
    cat <<URLS

  Multimedia Accounts is running.
    portal         $PORTAL_URL/   (open it in a browser: videos, sign-up, log in, reset, my account)
    console        $PORTAL_URL/console   (staff: make staff-grant EMAIL=… ROLE=admin, then two-step in My account)
    identity API   http://127.0.0.1:$IDENTITY_PORT   (OpenAPI: /openapi.json, keys: /.well-known/jwks.json)
    catalogue      http://127.0.0.1:$CATALOGUE_PORT/v1/videos   (search: ?q=Stoltenberg or ?q=ministre; OpenAPI: /openapi.json)
    newsletter API http://127.0.0.1:$NEWSLETTER_PORT   (OpenAPI: /openapi.json; issues: a newsletter-editor's token)
    (every port above is nginx: the services listen on $PORTAL_INTERNAL_PORT-$MAILER_INTERNAL_PORT behind it)
    mail inbox     $SMTP_SINK_URL/   (Mailpit: read the verification codes here; API: /api/v1/)
    SMTP faults    $SMTP_FAULTS_URL/api/fault   (PUT {"code": 451, "count": 3} to refuse mail: docs/testing.md)
    mailer ops     http://127.0.0.1:$MAILER_PORT/v1/deliveries?email=…   (a support person's token)
    worker metrics http://127.0.0.1:$MAILER_METRICS_PORT/metrics and :$((MAILER_METRICS_PORT + 1)) (mailer), :$NEWSLETTER_WORKER_METRICS_PORT (newsletter), :$CATALOGUE_WORKER_METRICS_PORT (catalogue)
    relay metrics  http://127.0.0.1:$IDENTITY_RELAY_METRICS_PORT/metrics (identity), :$NEWSLETTER_RELAY_METRICS_PORT (newsletter), :$CATALOGUE_RELAY_METRICS_PORT (catalogue); audit log :$IDENTITY_AUDIT_LOG_METRICS_PORT
    transcoder     http://127.0.0.1:$CATALOGUE_TRANSCODER_METRICS_PORT/metrics   (uploads: tus at http://127.0.0.1:$CATALOGUE_PORT/v1/uploads/)
    Prometheus     http://127.0.0.1:$PROMETHEUS_PORT/   (every process above scraped; alerts: /alerts; runbooks: docs/runbooks/)
    Kafka          $KAFKA_BOOTSTRAP_SERVERS
    S3 (S3Proxy)   $AWS_ENDPOINT_URL   (the catalogue's files: ${CATALOGUE_STORAGE:-$CATALOGUE_STORAGE_ROOT})
    PostgreSQL     ${DATABASE_URL%/postgres}
    logs           $LOGS/

  Try:  curl -s -X POST http://127.0.0.1:$IDENTITY_PORT/v1/accounts -H 'Content-Type: application/json' \\
          -d '{"email": "you@example.org", "password": "Correct-Horse-9!"}'
  Press Ctrl-C to stop everything.

URLS
    local status=0
    wait -n "${PIDS[@]}" || status=$?
    log "a service process exited (status $status); see $LOGS/"
    return 1
}

main "$@"
