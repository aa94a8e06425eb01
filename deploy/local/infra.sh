#!/usr/bin/env bash
# The local infrastructure: PostgreSQL, Kafka (with the system's topics), the SMTP sink (Mailpit
# behind the SMTP fault handler) and an S3-compatible object store (S3Proxy, for the catalogue's CATALOGUE_STORAGE=s3://…).
#
#   deploy/local/infra.sh up|down|status|env
#
# `up` starts whatever is not running yet and prints what it started to stdout as
# component names (one line: "postgres kafka smtp-sink s3proxy"), so a caller can stop only those;
# failing or interrupted before the end, it stops them itself and prints nothing.
# `down [component…]` stops them (all by default): one that does not stop does not keep the others
# running, and `down` then exits 1 naming it.
# `env` prints the variables that point the services and the tests at it.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COMPONENTS=(postgres kafka smtp-sink s3proxy)

script() { echo "$SCRIPT_DIR/$1.sh"; }

# What `up` started so far, stopped again if it does not get to the end (a component that fails, or
# Ctrl-C while a first start resolves jars): the caller, never told, would leave them running.
STARTED=()
UP_DONE=""
stop_unfinished_up() {
    if [[ -z $UP_DONE && ${#STARTED[@]} -gt 0 ]]; then
        log "stopping what this start began: ${STARTED[*]}" >&2
        # What did not stop is named; `up` fails with its own status either way.
        cmd_down "${STARTED[@]}" >&2 || :
    fi
}

cmd_up() {
    trap stop_unfinished_up EXIT
    trap 'exit 130' INT TERM
    for component in "${COMPONENTS[@]}"; do
        if ! bash "$(script "$component")" status >/dev/null 2>&1; then
            STARTED+=("$component")  # before its start: one interrupted halfway is stopped too
        fi
        bash "$(script "$component")" start >&2
    done
    eval "$(cmd_env)"
    "$REPO_ROOT/.venv/bin/accounts-topics" >&2
    UP_DONE=yes
    echo "${STARTED[*]:-}"
}

# Stops each component, one failing included, then fails naming those that did not stop.
cmd_down() {
    local components=("$@") failed=()
    [[ ${#components[@]} -gt 0 ]] || components=("${COMPONENTS[@]}")
    for component in "${components[@]}"; do
        bash "$(script "$component")" stop || failed+=("$component")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        log "did not stop: ${failed[*]} (the messages above say why)" >&2
        return 1
    fi
}

cmd_status() {
    local rc=0
    for component in "${COMPONENTS[@]}"; do bash "$(script "$component")" status || rc=1; done
    return $rc
}

cmd_env() {
    local pg_port="${POSTGRES_PORT:-5433}"
    cat <<VARS
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-9092}
export DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/postgres
export IDENTITY_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/identity
export MAILER_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/mailer
export SMTP_HOST=127.0.0.1
export SMTP_PORT=${SMTP_SINK_PORT:-1025}
# Mailpit's web UI and API (the inbox), and the fault switch in front of it (deploy/local/smtp-sink.sh).
export SMTP_SINK_URL=http://127.0.0.1:${SMTP_SINK_HTTP_PORT:-8025}
export SMTP_FAULTS_URL=http://127.0.0.1:${SMTP_FAULTS_CONTROL_PORT:-8026}
export KAFKA_LOCAL_SCRIPT=$SCRIPT_DIR/kafka.sh
# S3Proxy (deploy/local/s3proxy.sh) for boto3; the catalogue uses it only with CATALOGUE_STORAGE=s3://….
export AWS_ENDPOINT_URL=http://127.0.0.1:${S3PROXY_PORT:-9000}
export AWS_ACCESS_KEY_ID=${S3PROXY_IDENTITY:-local-identity}
export AWS_SECRET_ACCESS_KEY=${S3PROXY_CREDENTIAL:-local-credential}
export AWS_DEFAULT_REGION=us-east-1
# Built-in development keys are refused anywhere else (accounts_common.config.secret_key).
export ACCOUNTS_ENV=development
VARS
}

case "${1:-}" in
    up) cmd_up ;;
    down) shift; cmd_down "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 up|down [component…]|status|env" >&2; exit 2 ;;
esac
