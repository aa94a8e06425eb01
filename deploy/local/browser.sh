#!/usr/bin/env bash
# What the browser tests need besides the Python packages (Playwright comes with requirements-dev.txt):
# Debian's chromium (Playwright drives it; it downloads no browser of its own) and axe-core from
# the npm registry, installed into the git-ignored .tools/ folder.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TOOLS="$REPO_ROOT/.tools"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
AXE_VERSION="4.10"

main() {
    [[ -x $CHROMIUM ]] || apt_install chromium fonts-dejavu-core
    command -v npm >/dev/null || apt_install npm
    if [[ ! -f $TOOLS/node_modules/axe-core/axe.min.js ]]; then
        log "installing axe-core $AXE_VERSION from the npm registry into $TOOLS"
        mkdir -p "$TOOLS"
        npm install --silent --no-audit --no-fund --prefix "$TOOLS" "axe-core@~$AXE_VERSION" >/dev/null
    fi
    log "ready: $("$CHROMIUM" --version 2>/dev/null | head -n1), axe-core $(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$TOOLS/node_modules/axe-core/package.json" | head -n1)"
}

main "$@"
