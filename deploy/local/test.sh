#!/usr/bin/env bash
# `make test`: the local infrastructure, then the whole pytest suite against it.
# What this script started it stops again; what was already running stays running.
# Extra arguments go to pytest (make test ARGS="-k outbox").
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

started="$(bash "$SCRIPT_DIR/infra.sh" up)"
stop_started() {
    if [[ -n $started ]]; then
        # shellcheck disable=SC2086 # one word per component
        bash "$SCRIPT_DIR/infra.sh" down $started >&2
    fi
}
trap stop_started EXIT

eval "$(bash "$SCRIPT_DIR/infra.sh" env)"
cd "$REPO_ROOT"
"$REPO_ROOT/.venv/bin/python" -m pytest "$@"
