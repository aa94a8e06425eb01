#!/usr/bin/env bash
# The portal's browser libraries (the console's uploads run tus-js-client) from the npm registry:
# `npm ci` against services/portal/assets/package-lock.json, the browser build copied into the portal's
# static files (git-ignored, like the compiled translations). Run by install.sh, and by the container
# build before the portal's image (whose build, offline, copies static/ as it is).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ASSETS="$REPO_ROOT/services/portal/assets"
VENDOR="$REPO_ROOT/services/portal/src/portal/static/vendor"

main() {
    if [[ -f $VENDOR/tus.min.js && $VENDOR/tus.min.js -nt $ASSETS/package-lock.json ]]; then return 0; fi
    command -v npm >/dev/null || apt_install npm
    log "installing the portal's browser libraries (tus-js-client) from the npm registry"
    npm ci --silent --no-audit --no-fund --prefix "$ASSETS" >/dev/null
    mkdir -p "$VENDOR"
    cp "$ASSETS/node_modules/tus-js-client/dist/tus.min.js" "$VENDOR/tus.min.js"
}

main "$@"
