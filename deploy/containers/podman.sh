#!/usr/bin/env bash
# Podman for the containers path: the engine, its Docker-compatible API for testcontainers,
# and the variables that point the tools at it.
#
#   deploy/containers/podman.sh install|start|stop|status|env|clean
#
# `install` adds the Debian packages that are missing (podman, runc, debootstrap, iptables,
# dnsname, without which containers on a network cannot find each other by name, and maven, which
# resolves the Kafka image's jars).
# `start` serves the Docker API on a socket in the state folder (for testcontainers and compose);
# `stop` ends that process. `env` prints DOCKER_HOST, CONTAINERS_CONF and testcontainers' settings.
# `clean` removes the images build.sh made (and the layers only they used) and the state folder.
# State: PODMAN_STATE_DIR (default <repo>/.state/podman), deliberately not under STATE_DIR, which
# may be shared with another checkout's local infrastructure. Images and containers live in
# Podman's own storage.
set -euo pipefail

# For pid_runs; this script's own folder, names and messages are set below.
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${PODMAN_STATE_DIR:-$REPO_ROOT/.state/podman}"
SOCKET="$STATE/podman.sock"
PIDFILE="$STATE/service.pid"
LOG="$STATE/service.log"
PACKAGES=(podman runc debootstrap iptables golang-github-containernetworking-plugin-dnsname maven)
export CONTAINERS_CONF="$SCRIPT_DIR/containers.conf"

log() { printf 'podman.sh: %s\n' "$*" >&2; }
die() { printf 'podman.sh: error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || echo "$package"
    done
}

cmd_install() {
    local missing
    mapfile -t missing < <(missing_packages)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]} as root)"
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    podman info >/dev/null 2>"$STATE.info.err" || { cat "$STATE.info.err" >&2; die "podman is installed but does not run"; }
    rm -f "$STATE.info.err"
}

# Not a pid the system handed to another process since (a pid file left by a reboot).
is_running() { pid_runs "$PIDFILE" 'podman system service'; }

api_answers() {
    curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1
}

cmd_start() {
    cmd_install
    mkdir -p "$STATE"
    if is_running && api_answers; then return 0; fi
    rm -f "$SOCKET"
    nohup podman system service --time=0 "unix://$SOCKET" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
        api_answers && { log "Docker API of Podman on $SOCKET (pid $(cat "$PIDFILE"))"; return 0; }
        is_running || break
        sleep 0.1
    done
    tail -n 20 "$LOG" >&2 || true
    die "podman system service did not answer on $SOCKET (log: $LOG)"
}

cmd_stop() {
    is_running || { rm -f "$PIDFILE" "$SOCKET"; return 0; }
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE" "$SOCKET"
}

cmd_status() {
    if is_running && api_answers; then log "serving $SOCKET (pid $(cat "$PIDFILE"))"; else log "not running"; return 1; fi
}

cmd_clean() {
    cmd_stop
    if command -v podman >/dev/null; then
        local images
        images="$(podman images -q --filter 'reference=localhost/accounts-*' --filter 'reference=localhost/debian-base')"
        # shellcheck disable=SC2086 # one id per word
        [[ -z $images ]] || podman rmi -f $images >/dev/null
        podman image prune -f >/dev/null
    fi
    rm -rf "$STATE"
}

cmd_env() {
    cat <<VARS
export CONTAINERS_CONF=$CONTAINERS_CONF
export DOCKER_HOST=unix://$SOCKET
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_CONNECTION_MODE=docker_host
VARS
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    clean) cmd_clean ;;
    *) echo "usage: $0 install|start|stop|status|env|clean" >&2; exit 2 ;;
esac
