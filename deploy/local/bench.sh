#!/usr/bin/env bash
# Every benchmark under bench/, or those named (`make bench BENCH="signup_latency"`), one after
# the other; each prints its figures, nothing here asserts a speed. Expects the infrastructure's
# variables in the environment: `make bench` runs this through with-infra.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
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
