#!/usr/bin/env bash
# deploy/compose.yaml under Podman, with the images of `make containers`.
#
#   deploy/containers/compose.sh up|down|smoke|env
#
# `up` picks free host ports and fresh keys (kept in the state folder's compose.env, so `down`
# and `env` find them again, and an `up` again keeps them), starts the stack and waits until
# identity is ready. `down` removes
# its containers, network and volumes. `smoke` is up, the black-box test tests/compose, down
# (also when the test fails). `env` prints the stack's URLs as variables.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${PODMAN_STATE_DIR:-$REPO_ROOT/.state/podman}"
COMPOSE_ENV="$STATE/compose.env"
COMPOSE=("$REPO_ROOT/.venv/bin/podman-compose" -f "$REPO_ROOT/deploy/compose.yaml")
PYTHON="$REPO_ROOT/.venv/bin/python"
START_TIMEOUT=180
export CONTAINERS_CONF="$SCRIPT_DIR/containers.conf"

log() { printf 'compose.sh: %s\n' "$*" >&2; }
die() { printf 'compose.sh: error: %s\n' "$*" >&2; exit 1; }

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

write_env() {
    mkdir -p "$STATE"
    local fernet key_fernet hmac
    fernet="$("$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    key_fernet="$("$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    hmac="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')"
    (umask 077 && cat >"$COMPOSE_ENV" <<VARS
export ACCOUNTS_KAFKA_IMAGE=localhost/accounts-kafka
export ACCOUNTS_POSTGRES_IMAGE=localhost/accounts-postgres
export ACCOUNTS_SMTP_SINK_IMAGE=localhost/accounts-smtp-sink
export ACCOUNTS_NGINX_IMAGE=localhost/accounts-nginx
export ACCOUNTS_IDENTITY_IMAGE=localhost/accounts-identity
export ACCOUNTS_MAILER_IMAGE=localhost/accounts-mailer
export ACCOUNTS_PYTHON_IMAGE=localhost/accounts-python
export ACCOUNTS_ENV=production
export CODE_ENCRYPTION_KEYS=$fernet
export IDENTITY_CODE_HMAC_KEY=$hmac
export IDENTITY_KEY_ENCRYPTION_KEYS=$key_fernet
export CATALOGUE_DOWNLOAD_LINK_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')
export PORTAL_SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')
export ACCOUNTS_CATALOGUE_IMAGE=localhost/accounts-catalogue
export ACCOUNTS_PORTAL_IMAGE=localhost/accounts-portal
export ACCOUNTS_NEWSLETTER_IMAGE=localhost/accounts-newsletter
export ACCOUNTS_PROMETHEUS_IMAGE=localhost/accounts-prometheus
export PROMETHEUS_PORT=$(free_port)
export NEWSLETTER_UNSUBSCRIBE_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')
export NEWSLETTER_PORT=$(free_port)
export CATALOGUE_PORT=$(free_port)
export PORTAL_PORT=$(free_port)
export KAFKA_EXTERNAL_PORT=$(free_port)
export SMTP_SINK_HTTP_PORT=$(free_port)
export IDENTITY_PORT=$(free_port)
export MAILER_PORT=$(free_port)
VARS
    )
}

load_env() {
    [[ -f $COMPOSE_ENV ]] || die "no stack was brought up from this checkout ($COMPOSE_ENV is missing)"
    # shellcheck disable=SC1090
    source "$COMPOSE_ENV"
}

identity_ready() { curl -sf "http://127.0.0.1:$IDENTITY_PORT/readyz" >/dev/null 2>&1; }

cmd_up() {
    bash "$SCRIPT_DIR/podman.sh" install
    # A stack already up keeps its keys and ports: new ones would recreate its containers (podman-compose
    # recreates a container whose configuration changed) over data encrypted with the old keys.
    if [[ -f $COMPOSE_ENV ]]; then
        log "a stack was brought up from this checkout: its keys and ports are kept (make compose-down for new ones)"
    else
        write_env
    fi
    load_env
    local started=$SECONDS
    for image in kafka postgres smtp-sink prometheus nginx $(cd "$REPO_ROOT/services" && echo */ | tr -d /); do
        podman image exists "localhost/accounts-$image" || die "image localhost/accounts-$image is missing: run make containers"
    done
    "$PYTHON" "$SCRIPT_DIR/compose_up.py" "$REPO_ROOT/deploy/compose.yaml" --timeout "$START_TIMEOUT" \
        || { "${COMPOSE[@]}" ps >&2 || true; die "the stack did not come up; bring it down with make compose-down"; }
    until identity_ready; do
        if (( SECONDS - started > START_TIMEOUT )); then
            "${COMPOSE[@]}" ps >&2 || true
            "${COMPOSE[@]}" logs --tail 20 >&2 2>&1 || true
            die "identity did not become ready within $START_TIMEOUT s"
        fi
        sleep 0.5
    done
    log "stack ready in $((SECONDS - started)) s: identity http://127.0.0.1:$IDENTITY_PORT, inbox http://127.0.0.1:$SMTP_SINK_HTTP_PORT/, Kafka 127.0.0.1:$KAFKA_EXTERNAL_PORT, Prometheus http://127.0.0.1:$PROMETHEUS_PORT/"
}

cmd_down() {
    [[ -f $COMPOSE_ENV ]] || return 0
    load_env
    "${COMPOSE[@]}" down -v -t 10 >"$STATE/compose-down.log" 2>&1 \
        || { tail -n 30 "$STATE/compose-down.log" >&2; die "podman-compose down failed"; }
    rm -f "$COMPOSE_ENV"
    local left
    left="$(podman ps -a --format '{{.Names}}' --filter label=com.docker.compose.project=multimedia-accounts)"
    [[ -z $left ]] || die "containers left after down: ${left//$'\n'/ }"
}

cmd_env() {
    load_env
    cat <<VARS
export COMPOSE_IDENTITY_URL=http://127.0.0.1:$IDENTITY_PORT
export COMPOSE_INBOX_URL=http://127.0.0.1:$SMTP_SINK_HTTP_PORT
export COMPOSE_KAFKA=127.0.0.1:$KAFKA_EXTERNAL_PORT
export COMPOSE_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
export COMPOSE_WEB_URLS="http://127.0.0.1:$IDENTITY_PORT http://127.0.0.1:$MAILER_PORT http://127.0.0.1:$CATALOGUE_PORT http://127.0.0.1:$PORTAL_PORT http://127.0.0.1:$NEWSLETTER_PORT"
VARS
}

cmd_smoke() {
    trap cmd_down EXIT
    cmd_up
    eval "$(cmd_env)"
    cd "$REPO_ROOT"
    "$PYTHON" -m pytest tests/compose -q
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    smoke) cmd_smoke ;;
    env) cmd_env ;;
    *) echo "usage: $0 up|down|smoke|env" >&2; exit 2 ;;
esac
