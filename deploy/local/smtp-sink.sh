#!/usr/bin/env bash
# The local SMTP sink as two background processes: Mailpit (the inbox people and tests read: web UI
# and API) behind the SMTP fault handler (deploy/local/smtp_faults.py), which the services talk to.
#
#   deploy/local/smtp-sink.sh start|stop|status
#
# Environment: STATE_DIR (default <repo>/.state), SMTP_SINK_PORT (1025: the fault handler's SMTP,
# what the services send to), SMTP_SINK_HTTP_PORT (8025: Mailpit's web UI and API),
# SMTP_FAULTS_CONTROL_PORT (8026: the fault switch), MAILPIT_SMTP_PORT (1026: Mailpit's own SMTP,
# fed by the fault handler), SMTP_SINK_BOUNCE_MAILDIR (default <state>/smtp-sink/bounces: the DSNs
# of `dsn` faults, which `mailer bounces` reads under `make run`), PYTHON (default
# <repo>/.venv/bin/python, with aiosmtpd), MAILPIT (default <repo>/.venv/bin/mailpit); both come
# from `make install`. Mailpit keeps its messages in <state>/smtp-sink/mailpit.db across restarts.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE="$STATE_ROOT/smtp-sink"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
MAILPIT="${MAILPIT:-$REPO_ROOT/.venv/bin/mailpit}"
SMTP_PORT="${SMTP_SINK_PORT:-1025}"
HTTP_PORT="${SMTP_SINK_HTTP_PORT:-8025}"
CONTROL_PORT="${SMTP_FAULTS_CONTROL_PORT:-8026}"
MAILPIT_SMTP="${MAILPIT_SMTP_PORT:-1026}"
BOUNCE_MAILDIR="${SMTP_SINK_BOUNCE_MAILDIR:-$STATE/bounces}"
PROCESSES=(mailpit faults)
LEGACY=sink  # the one-process sink before Mailpit (smtp_sink.py), still holding the ports in an old .state

pidfile() { echo "$STATE/$1.pid"; }
# What each process's command line holds: a pid file left by a crash or a reboot may name a pid the
# system has handed to another process since, which stop must not kill.
declare -A COMMAND_PATTERN=([mailpit]='mailpit.* --smtp ' [faults]='smtp_faults\.py' [sink]='smtp_sink\.py')
is_running() { pid_runs "$(pidfile "$1")" "${COMMAND_PATTERN[$1]}"; }
answers() {
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null
}
healthy() {
    answers "http://127.0.0.1:$HTTP_PORT/readyz" && answers "http://127.0.0.1:$CONTROL_PORT/healthz"
}

launch() {
    local name="$1"
    shift
    is_running "$name" && return 0
    nohup "$@" >"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$(pidfile "$name")"
}

cmd_start() {
    [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' first"
    [[ -x $MAILPIT ]] || die "$MAILPIT not found: run 'make install' first (it builds Mailpit)"
    mkdir -p "$STATE"
    if is_running "$LEGACY"; then
        die "the SMTP sink from before Mailpit still runs (pid $(cat "$(pidfile "$LEGACY")")): $0 stop, then start"
    fi
    launch mailpit "$MAILPIT" --listen "127.0.0.1:$HTTP_PORT" --smtp "127.0.0.1:$MAILPIT_SMTP" \
        --database "$STATE/mailpit.db" --max 10000 --compression 0 --disable-version-check --smtp-disable-rdns
    launch faults "$PYTHON" "$SCRIPT_DIR/smtp_faults.py" --smtp-port "$SMTP_PORT" \
        --control-port "$CONTROL_PORT" --mailpit-smtp "127.0.0.1:$MAILPIT_SMTP" \
        --bounce-maildir "$BOUNCE_MAILDIR"
    for _ in $(seq 1 100); do
        if healthy; then
            log "running: SMTP 127.0.0.1:$SMTP_PORT, inbox http://127.0.0.1:$HTTP_PORT/," \
                "faults http://127.0.0.1:$CONTROL_PORT/api/fault"
            return 0
        fi
        is_running mailpit && is_running faults || break
        sleep 0.1
    done
    tail -n 20 "$STATE/mailpit.log" "$STATE/faults.log" >&2 || true
    die "the SMTP sink did not start (logs: $STATE/mailpit.log, $STATE/faults.log)"
}

stop_one() {
    local name="$1" pid
    is_running "$name" || { rm -f "$(pidfile "$name")"; return 0; }
    pid="$(cat "$(pidfile "$name")")"
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill_for_good "$pid" || return 1
    rm -f "$(pidfile "$name")"
}

# Each process is stopped even when one before it did not stop; false if any did not.
cmd_stop() {
    local name rc=0
    for name in "$LEGACY" faults mailpit; do stop_one "$name" || rc=1; done
    (( rc == 0 )) || return 1
    log "stopped"
}

cmd_status() {
    local name rc=0
    for name in "${PROCESSES[@]}"; do
        if is_running "$name"; then log "$name running (pid $(cat "$(pidfile "$name")"))"; else
            log "$name not running"
            rc=1
        fi
    done
    return $rc
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
