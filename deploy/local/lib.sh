# What the deploy/local scripts share; each sources it first:
#   # shellcheck source=deploy/local/lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It sets SCRIPT_DIR (this folder), REPO_ROOT and STATE_ROOT (the state folder: STATE_DIR, by
# default <repo>/.state). Messages name the script that sourced this file.

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_ROOT="${STATE_DIR:-$REPO_ROOT/.state}"
SCRIPT_NAME="$(basename "$0")"

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() { printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# Install Debian packages (as root only). A policy-rc.d refusing every start keeps the packages'
# own services (nginx, prometheus, postgresql) from starting: the scripts start what they need.
# The packages also enable those services, which would start at the next boot and take the ports
# `make run` gives its own (Prometheus 9090, its PostgreSQL exporter 9187): they are disabled too.
apt_install() {
    is_root || die "$* missing: run as root, or apt-get install $*"
    log "installing $* from Debian's packages"
    local policy=/usr/sbin/policy-rc.d added="" status=0 enabled_before
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=yes
    fi
    enabled_before="$(enabled_units)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >/dev/null; } || status=$?
    if [[ -n $added ]]; then rm -f "$policy"; fi
    disable_units_enabled_since "$enabled_before"
    return $status
}

# The systemd services enabled to start at boot (under SYSTEMD_UNIT_DIR, /etc/systemd/system).
enabled_units() {
    find "${SYSTEMD_UNIT_DIR:-/etc/systemd/system}" -path '*.wants/*.service' -printf '%f\n' 2>/dev/null | sort -u
}

# Disable the services enabled since the list ENABLED_BEFORE was taken (those of a package just installed).
#   disable_units_enabled_since ENABLED_BEFORE
disable_units_enabled_since() {
    local unit
    command -v systemctl >/dev/null || return 0
    while IFS= read -r unit; do
        [[ -n $unit ]] || continue
        if systemctl disable --quiet "$unit" >/dev/null 2>&1; then
            log "disabled $unit: the scripts start what they need"
        else
            log "note: could not disable $unit; at boot it may take a port \`make run\` uses"
        fi
    done < <(comm -13 <(printf '%s\n' "$1") <(enabled_units))
}

# The pid a pid file holds (nothing if there is no such file).
read_pid() { if [[ -f $1 ]]; then cat "$1"; fi; }

# True if PIDFILE names a live process whose command line matches PATTERN (not a recycled pid).
#   pid_runs PIDFILE PATTERN
pid_runs() {
    local pid
    pid="$(read_pid "$1")"
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2"
}

# True while process PID has not exited (a zombie, exited but not yet reaped by its parent, has).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ ${stat##*) } != Z* ]]
}

# Send SIGKILL to PID and wait up to 5 s for it to be gone; false, said on stderr, if it is not (then
# its pid file must be kept: the process may still hold its ports and files).
#   kill_for_good PID
kill_for_good() {
    kill -KILL "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive "$1" || return 0
        sleep 0.1
    done
    printf '%s: error: still running (pid %s) after SIGKILL\n' "$SCRIPT_NAME" "$1" >&2
    return 1
}

# True if something accepts TCP connections on HOST PORT.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

java_major() {
    local v
    v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    v="${v#1.}"  # "1.8.0_392" means Java 8
    echo "${v%%[.+_-]*}"
}

ensure_java() {
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v java >/dev/null || die "java is still not on PATH after installing openjdk-17-jre-headless"
    local major
    major="$(java_major)"
    if ! [[ $major =~ ^[0-9]+$ ]] || (( major < 17 )); then
        die "Java 17+ is required, found '$(java -version 2>&1 | head -n 1)' (apt-get install openjdk-17-jre-headless)"
    fi
}

ensure_maven() {
    command -v mvn >/dev/null || apt_install maven
    command -v mvn >/dev/null || die "mvn is still not on PATH after installing maven"
}

pom_hash() { sha256sum "$1" | cut -d' ' -f1; }

# The runtime jars of POM copied into DEST by Maven, unless DEST already holds them for this very
# pom. Resolved into a temporary folder first, so an interrupted run never leaves a partial classpath.
#   maven_jars POM DEST MAVEN_LOG WHAT
maven_jars() {
    local pom="$1" dest="$2" maven_log="$3" what="$4" want
    want="$(pom_hash "$pom")"
    [[ -f $dest/.pom.sha256 && "$(cat "$dest/.pom.sha256")" == "$want" ]] && return 0
    ensure_maven
    local tmp="$dest.tmp"
    rm -rf "$tmp"
    log "resolving the $what jars with Maven (first run takes a minute)…"
    if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$maven_log" 2>&1; then
        tail -n 40 "$maven_log" >&2
        die "Maven could not resolve the $what jars (full output in $maven_log)"
    fi
    echo "$want" >"$tmp/.pom.sha256"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    log "jars ready in $dest ($(find "$dest" -name '*.jar' | wc -l) jars)"
}
