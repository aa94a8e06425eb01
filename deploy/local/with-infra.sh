#!/usr/bin/env bash
# Runs a command with the local infrastructure up and its variables exported
# (deploy/local/infra.sh env). What this script started it stops again afterwards;
# what was already running stays running. Exits with the command's status, or 1 when the command
# succeeded but something this script started did not stop (infra.sh down names it).
#
#   deploy/local/with-infra.sh COMMAND [ARG…]
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARG…]" >&2; exit 2; }

started="$(bash "$SCRIPT_DIR/infra.sh" up)"
stop_started() {
    local status=$?
    if [[ -n $started ]]; then
        # shellcheck disable=SC2086 # one word per component
        bash "$SCRIPT_DIR/infra.sh" down $started >&2 || status=$((status == 0 ? 1 : status))
    fi
    exit "$status"
}
trap stop_started EXIT

eval "$(bash "$SCRIPT_DIR/infra.sh" env)"
cd "$REPO_ROOT"
"$@"
