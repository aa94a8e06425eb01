#!/usr/bin/env bash
# Builds Mailpit (the inbox developers read: web UI, search, API) into DEST, by default
# <repo>/.venv/bin/mailpit. Run by deploy/local/install.sh (`make install`).
#
#   deploy/local/build-mailpit.sh [DEST]
#
# The Go module ships without its web UI's built assets (server/ui/dist), so its source is copied
# out of the module cache, the UI is bundled from the module's npm sources, and the binary is
# built from that copy. The first build takes a few minutes; the result is cached per version
# under MAILPIT_CACHE (default ~/.cache/multimedia-accounts), so other clones copy it.
# The module's package-lock.json pins versions the npm registry reached here does not serve
# (rapidoc 12, sass-embedded 1.108.1): the bundle is resolved from package.json instead, with only
# the devDependencies the bundle needs and rapidoc (the API docs page) at its newest served major.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VERSION=v1.33.1
MODULE=github.com/axllent/mailpit
DEST="${1:-$REPO_ROOT/.venv/bin/mailpit}"
CACHE="${MAILPIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multimedia-accounts}/mailpit-$VERSION"
BUILD_DEPS=(esbuild esbuild-plugin-vue-next esbuild-sass-plugin @vue/compiler-sfc)

ensure_node() {
    command -v npm >/dev/null || apt_install nodejs npm
    command -v npm >/dev/null || die "npm is still missing after installing nodejs npm"
}

# package.json trimmed to what `npm run build` needs (see the header).
trim_package_json() {
    node -e '
        const fs = require("fs");
        const p = JSON.parse(fs.readFileSync("package.json"));
        const keep = process.argv.slice(1);
        p.devDependencies = Object.fromEntries(keep.map((k) => [k, p.devDependencies[k]]));
        p.dependencies.rapidoc = "^9.3.8";
        fs.writeFileSync("package.json", JSON.stringify(p, null, 2));
    ' "${BUILD_DEPS[@]}"
}

build() {
    command -v go >/dev/null || die "Go is required to build Mailpit (the machine's toolchain, go 1.26+)"
    ensure_node
    local source work="$CACHE.tmp" build_log="$CACHE.log"
    mkdir -p "$(dirname "$CACHE")"
    log "building Mailpit $VERSION (first time only, a few minutes; log: $build_log)"
    source="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [[ -d $source ]] || die "go mod download $MODULE@$VERSION gave no source folder"
    rm -rf "$work" && mkdir -p "$work"
    cp -r "$source" "$work/src" && chmod -R u+w "$work/src"
    if ! (cd "$work/src" && rm -f package-lock.json && trim_package_json &&
        npm install --no-audit --no-fund --loglevel=error && npm run build &&
        go build -trimpath -ldflags "-s -w -X $MODULE/config.Version=$VERSION" -o "$work/mailpit" .) \
        >"$build_log" 2>&1; then
        tail -n 30 "$build_log" >&2
        die "Mailpit did not build (full output in $build_log)"
    fi
    [[ -s $work/src/server/ui/dist/app.js ]] || die "Mailpit's web UI was not bundled (log: $build_log)"
    rm -rf "$CACHE" && mkdir -p "$CACHE"
    mv "$work/mailpit" "$CACHE/mailpit"
    rm -rf "$work"
}

main() {
    [[ -x $CACHE/mailpit ]] || build
    mkdir -p "$(dirname "$DEST")"
    cp "$CACHE/mailpit" "$DEST.tmp" && mv "$DEST.tmp" "$DEST"
    log "Mailpit $VERSION: $DEST"
}

main "$@"
