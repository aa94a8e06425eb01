#!/usr/bin/env bash
# `make test-containers`: the integration tier (and the test kit's own tests) with Kafka,
# PostgreSQL and the SMTP sink in containers that testcontainers starts and removes, through
# Podman's Docker API. Afterwards nothing may be left: leftovers are removed and fail the run.
#
#   deploy/containers/test.sh [PYTEST ARG…]    (without a test path: tests/integration tests/containers)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LABEL=org.testcontainers.lang=python

log() { printf 'test.sh: %s\n' "$*" >&2; }

# Containers and networks testcontainers made and did not remove; removes them, fails if any.
remove_leftovers() {
    local containers networks
    containers="$(podman ps -aq --filter "label=$LABEL")"
    networks="$(podman network ls -q --filter "label=$LABEL")"
    [[ -z $containers && -z $networks ]] && return 0
    log "left behind by the tests, now removed: containers ${containers//$'\n'/ } networks ${networks//$'\n'/ }"
    [[ -z $containers ]] || podman rm -f -t 5 $containers >/dev/null
    [[ -z $networks ]] || podman network rm -f $networks >/dev/null
    return 1
}

finish() {
    local status=$?
    remove_leftovers || status=1
    bash "$SCRIPT_DIR/podman.sh" stop
    exit $status
}

main() {
    bash "$SCRIPT_DIR/podman.sh" start
    eval "$(bash "$SCRIPT_DIR/podman.sh" env)"
    trap finish EXIT
    remove_leftovers || true  # an earlier run killed before its clean-up
    # Not the local infrastructure: the fixtures then start their own in containers.
    unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL SMTP_SINK_URL SMTP_FAULTS_URL SMTP_HOST SMTP_PORT KAFKA_LOCAL_SCRIPT
    export ACCOUNTS_POSTGRES_IMAGE=localhost/accounts-postgres ACCOUNTS_KAFKA_IMAGE=localhost/accounts-kafka \
        ACCOUNTS_SMTP_SINK_IMAGE=localhost/accounts-smtp-sink ACCOUNTS_IDENTITY_IMAGE=localhost/accounts-identity \
        ACCOUNTS_MAILER_IMAGE=localhost/accounts-mailer
    cd "$REPO_ROOT"
    local arg
    for arg in "$@"; do
        [[ -e ${arg%%::*} ]] && { "$REPO_ROOT/.venv/bin/python" -m pytest "$@"; return; }
    done
    "$REPO_ROOT/.venv/bin/python" -m pytest tests/integration tests/containers "$@"
}

main "$@"
