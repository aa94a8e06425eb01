#!/usr/bin/env bash
# `make bench`: the local infrastructure, then every benchmark under bench/ (or those named:
# make bench BENCH="signup_latency"). Each prints its figures; nothing here asserts a speed.
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
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
    for file in bench/*.py; do
        name="$(basename "$file" .py)"
        [[ $name == __init__ || $name == support ]] || names+=("$name")
    done
fi
for name in "${names[@]}"; do
    echo "== bench.$name"
    "$REPO_ROOT/.venv/bin/python" -m "bench.$name"
done
