#!/usr/bin/env bash
# Local SMTP sink (deploy/local/smtp_sink.py) as a background process.
#
#   deploy/local/smtp-sink.sh start|stop|status
#
# Environment: STATE_DIR (default <repo>/.state), SMTP_SINK_PORT (1025), SMTP_SINK_HTTP_PORT (8025),
# SMTP_SINK_BOUNCE_MAILDIR (default <state>/smtp-sink/bounces: the DSNs of `dsn` faults, which
# `mailer bounces` reads under `make run`),
# PYTHON (default <repo>/.venv/bin/python: the sink needs aiosmtpd, installed by `make install`).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/local/lib.sh
source "$SCRIPT_DIR/lib.sh"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${STATE_DIR:-$REPO_ROOT/.state}/smtp-sink"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
SMTP_PORT="${SMTP_SINK_PORT:-1025}"
HTTP_PORT="${SMTP_SINK_HTTP_PORT:-8025}"
BOUNCE_MAILDIR="${SMTP_SINK_BOUNCE_MAILDIR:-$STATE/bounces}"
PIDFILE="$STATE/sink.pid"
LOG="$STATE/sink.log"

is_running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
healthy() {
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null
}

cmd_start() {
    if is_running; then
        log "already running (pid $(cat "$PIDFILE")); inbox http://127.0.0.1:$HTTP_PORT/"
        return 0
    fi
    [[ -x $PYTHON ]] || die "$PYTHON not found: run 'make install' first"
    mkdir -p "$STATE"
    nohup "$PYTHON" "$SCRIPT_DIR/smtp_sink.py" --smtp-port "$SMTP_PORT" --http-port "$HTTP_PORT" \
        --bounce-maildir "$BOUNCE_MAILDIR" \
        >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
        if healthy; then
            log "running (pid $(cat "$PIDFILE")): SMTP 127.0.0.1:$SMTP_PORT, inbox http://127.0.0.1:$HTTP_PORT/"
            return 0
        fi
        is_running || break
        sleep 0.1
    done
    tail -n 20 "$LOG" >&2 || true
    die "the SMTP sink did not start (log: $LOG)"
}

cmd_stop() {
    if ! is_running; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    log "stopped"
}

cmd_status() {
    if is_running; then log "running (pid $(cat "$PIDFILE"))"; else log "not running"; return 1; fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
