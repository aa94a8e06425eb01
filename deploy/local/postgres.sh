#!/usr/bin/env bash
# Local PostgreSQL for development and tests: a private cluster under the
# repo's state folder (not Debian's system cluster), on 127.0.0.1 only.
#
#   deploy/local/postgres.sh start|stop|crash|status|reset
#
# `crash` stops the server the way a power cut would (immediate shutdown: no checkpoint,
# crash recovery on the next start); the chaos runs (make chaos) use it on their own cluster.
#
# Environment:
#   STATE_DIR           state folder (default: <repo>/.state); data in $STATE_DIR/postgres
#   POSTGRES_PORT       TCP port (default: 5433)
#   POSTGRES_DATABASES  databases created on start (default: "identity mailer catalogue newsletter")
#   PG_BINDIR           server binaries folder (default: newest /usr/lib/postgresql/*/bin)
#
# As root, the server runs as the OS user "postgres" (initdb and postgres refuse
# to run as root). If that user cannot reach the state folder (a parent folder
# such as /root is not traversable by others), the cluster lives in
# /tmp/multimedia-accounts-<hash of repo path>/postgres instead: we never change
# the permissions of folders outside the state folder.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PORT="${POSTGRES_PORT:-5433}"
DATABASES="${POSTGRES_DATABASES:-identity mailer catalogue newsletter}"
PG_OS_USER=postgres
START_TIMEOUT=60

# Set by resolve_paths.
PG_STATE="" DATA="" LOG="" SOCK_DIR="" BINDIR="" FALLBACK=false

# Run a command as the OS user that owns the cluster.
as_pg() {
    if is_root; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

has_server_binaries() { [[ -x $1/postgres && -x $1/initdb && -x $1/pg_ctl ]]; }

# Print the folder holding postgres/initdb/pg_ctl, or nothing.
find_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        has_server_binaries "$PG_BINDIR" || die "PG_BINDIR=$PG_BINDIR has no postgres/initdb/pg_ctl"
        echo "$PG_BINDIR"; return
    fi
    local d best=""
    # Debian's pg_config belongs to libpq-dev and may name a version whose
    # server is not installed, so the versioned folders come first.
    while IFS= read -r d; do
        has_server_binaries "$d" && best=$d
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
    if [[ -z $best ]] && command -v pg_config >/dev/null; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        [[ -n $d ]] && has_server_binaries "$d" && best=$d
    fi
    echo "$best"
}

install_server() {
    is_root || die "PostgreSQL server binaries not found. Install the Debian package 'postgresql' (sudo apt-get install -y postgresql) or set PG_BINDIR."
    log "PostgreSQL server not found; installing Debian package 'postgresql'"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y postgresql
}

ensure_bindir() {
    BINDIR="$(find_bindir)"
    if [[ -z $BINDIR ]]; then
        install_server
        BINDIR="$(find_bindir)"
        [[ -n $BINDIR ]] || die "package 'postgresql' installed but no server binaries under /usr/lib/postgresql/*/bin"
    fi
}

ensure_os_user() {
    is_root || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "creating system user '$PG_OS_USER'"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
}

# True if the server's OS user can traverse every existing parent of $1.
pg_can_reach() {
    is_root || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 || return 0  # user not created yet: checked again on start
    local d=$1
    while [[ ! -e $d ]]; do d="$(dirname "$d")"; done
    runuser -u "$PG_OS_USER" -- test -x "$d"
}

fallback_state() {
    local hash
    hash="$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
    echo "/tmp/multimedia-accounts-$hash/postgres"
}

resolve_paths() {
    PG_STATE="$STATE_ROOT/postgres"
    if ! pg_can_reach "$PG_STATE"; then
        local fallback
        fallback="$(fallback_state)"
        log "note: OS user '$PG_OS_USER' cannot reach $PG_STATE (a parent folder is not traversable); using $fallback" >&2
        PG_STATE=$fallback
        FALLBACK=true
    fi
    DATA="$PG_STATE/data"
    LOG="$PG_STATE/postgres.log"
    SOCK_DIR="$PG_STATE/run"
}

# Create the state folders, owned by the server's OS user.
prepare_state() {
    (umask 022 && mkdir -p "$PG_STATE" "$SOCK_DIR")
    if is_root; then
        if $FALLBACK; then  # a shared /tmp folder: use it only if nobody else made it
            local owner
            owner="$(stat -c %U "$(dirname "$PG_STATE")")"
            [[ $owner == root ]] || die "$(dirname "$PG_STATE") is owned by '$owner', refusing to use it"
        fi
        [[ "$(stat -c %U "$PG_STATE")" == "$PG_OS_USER" ]] || chown -R "$PG_OS_USER:" "$PG_STATE"
        chown "$PG_OS_USER:" "$SOCK_DIR"
    fi
    as_pg test -w "$PG_STATE" || die "OS user '$PG_OS_USER' cannot write $PG_STATE"
}

init_cluster() {
    [[ -f $DATA/PG_VERSION ]] && return 0
    [[ -e $DATA ]] && die "$DATA exists but holds no cluster; run '$0 reset'"
    log "initdb: creating cluster in $DATA"
    local tmp="$DATA.initdb"
    as_pg rm -rf "$tmp"
    # Into a temporary folder first so an interrupted initdb never leaves a half-made cluster.
    if ! as_pg "$BINDIR/initdb" -D "$tmp" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        >"$PG_STATE/initdb.log" 2>&1; then
        cat "$PG_STATE/initdb.log" >&2
        die "initdb failed"
    fi
    as_pg mv "$tmp" "$DATA"
    as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<<"include = 'local_dev.conf'"
}

# A postgresql.conf string: ' doubled, and \ doubled (the file's escape character).
conf_quote() {
    local value="${1//\\/\\\\}"
    printf "'%s'" "${value//\'/\'\'}"
}

# One word of a command PostgreSQL runs with the shell (archive_command): single-quoted for the
# shell, and % doubled (PostgreSQL's own escape).
shell_word() {
    local quoted
    quoted="'${1//\'/\'\\\'\'}'"
    printf '%s' "${quoted//%/%%}"
}

# Rewritten on each start, so POSTGRES_PORT and the state path may change.
write_config() {
    local sockets
    sockets="$(conf_quote "$SOCK_DIR")"
    # Unix socket paths are limited to 107 bytes; clients here use TCP anyway.
    if (( ${#SOCK_DIR} + 16 > 107 )); then
        log "note: socket path too long, Unix socket disabled (connect over TCP)"
        sockets="''"
    fi
    as_pg tee "$DATA/local_dev.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on each start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = $sockets
max_connections = 200
shared_buffers = 128MB
# SSD or cached storage: at the default 4 the planner reads every row for a common search word.
random_page_cost = 1.1
EOF
    # WAL archiving once `make backup` made the archive (deploy/local/backup.py): a segment is
    # copied when full, or after archive_timeout when quiet, which bounds what a lost disk loses.
    local archive="$PG_STATE/backups/wal"
    if [[ -d $archive ]]; then
        local folder
        folder="$(shell_word "$archive")"
        as_pg tee -a "$DATA/local_dev.conf" >/dev/null <<EOF
archive_mode = on
archive_command = $(conf_quote "test ! -f $folder/%f && cp %p $folder/%f.part && mv $folder/%f.part $folder/%f")
archive_timeout = 60
EOF
    fi
}

is_running() {
    [[ -f $DATA/PG_VERSION && -f $DATA/postmaster.pid && -n $BINDIR ]] || return 1
    is_live_postgres "$(head -n 1 "$DATA/postmaster.pid")" || return 1
    as_pg "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Port of the running server: line 4 of postmaster.pid.
running_port() { sed -n 4p "$DATA/postmaster.pid"; }

# True if PID is a live (not zombie) postgres process.
is_live_postgres() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ $stat =~ ^[0-9]+\ \(postgres\)\ [^Z] ]]
}

# After a crash or reboot the PID in a lock file may now belong to another
# process; pg_ctl would then report "running" and postgres refuse to start.
clear_stale_locks() {
    local lock pid
    for lock in "$DATA/postmaster.pid" "$SOCK_DIR"/.s.PGSQL.*.lock; do
        [[ -f $lock ]] || continue
        pid="$(head -n 1 "$lock")"
        is_live_postgres "$pid" && continue
        log "removing stale $lock (PID $pid is not a running postgres)"
        rm -f "$lock"
    done
}

pg_ready() { "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 2; }

wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT))
    until pg_ready; do
        (( SECONDS < deadline )) || return 1
        log "waiting for 127.0.0.1:$PORT to accept connections ($((deadline - SECONDS)) s left)"
        sleep 1
    done
}

fail_start() {
    log "start failed; last 40 lines of $LOG:" >&2
    tail -n 40 "$LOG" >&2 || true
    exit 1
}

psql_pg() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

check_database_names() {
    local db
    for db in $DATABASES; do
        [[ $db =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid database name '$db' in POSTGRES_DATABASES"
    done
}

create_databases() {
    local db
    for db in $DATABASES; do
        if [[ -z "$(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
            psql_pg -c "CREATE DATABASE \"$db\""
            log "created database $db"
        fi
    done
}

print_urls() {
    local db
    for db in $DATABASES; do echo "postgresql://postgres@127.0.0.1:$PORT/$db"; done
}

cmd_start() {
    check_database_names
    ensure_bindir
    ensure_os_user
    resolve_paths
    prepare_state
    init_cluster
    clear_stale_locks
    if is_running; then
        local actual
        actual="$(running_port)"
        [[ $actual == "$PORT" ]] || log "note: it was started on port $actual, not $PORT"
        PORT=$actual
        log "already running on 127.0.0.1:$PORT (data $DATA)"
    else
        pg_ready && die "port $PORT on 127.0.0.1 is taken by another server; set POSTGRES_PORT"
        write_config
        log "starting on 127.0.0.1:$PORT (data $DATA, log $LOG)"
        as_pg "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOG" -w -t "$START_TIMEOUT" >/dev/null || fail_start
        wait_ready || fail_start
    fi
    create_databases
    print_urls
}

# shut_down MODE MESSAGE: pg_ctl stop -m MODE (fast: a clean stop; immediate: as a crash).
shut_down() {
    BINDIR="$(find_bindir)"
    resolve_paths
    if ! is_running; then log "not running"; return 0; fi
    as_pg "$BINDIR/pg_ctl" stop -D "$DATA" -m "$1" -w >/dev/null
    log "$2"
}

cmd_status() {
    BINDIR="$(find_bindir)"
    resolve_paths
    if is_running; then
        log "running on 127.0.0.1:$(running_port) (data $DATA)"
    else
        log "not running"
        exit 3
    fi
}

cmd_reset() {
    shut_down fast stopped
    rm -rf "$DATA" "$DATA.initdb" "$SOCK_DIR"
    log "deleted $DATA"
}

main() {
    cd /  # the server's OS user may not be able to read the caller's folder
    case "${1:-}" in
        start) cmd_start ;;
        stop) shut_down fast stopped ;;
        crash) shut_down immediate "crashed (immediate shutdown)" ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        *) echo "usage: $0 {start|stop|crash|status|reset}" >&2; exit 2 ;;
    esac
}

main "$@"
