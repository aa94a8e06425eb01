#!/usr/bin/env bash
# Local S3-compatible object store for development and tests: S3Proxy (Maven Central's
# org.gaul:s3proxy) serving the S3 API over a folder (jclouds' filesystem-nio2 backend), without
# Docker. Maven copies its jars from deploy/local/s3proxy/pom.xml, as kafka.sh does for Kafka.
#
#   deploy/local/s3proxy.sh start|stop|restart|status|reset
#
# start first deletes the files of writes S3Proxy never finished (deploy/local/s3proxy_litter.py):
# a body cut off leaves one, and every listing that meets it fails.
#
# Environment:
#   STATE_DIR          state folder (default: <repo>/.state); everything in $STATE_DIR/s3proxy
#   S3PROXY_PORT       HTTP port on 127.0.0.1 (default: 9000)
#   S3PROXY_IDENTITY   access key id (default: local-identity)
#   S3PROXY_CREDENTIAL secret access key (default: local-credential)
#   S3PROXY_BUCKETS    buckets that exist from the start (default: catalogue-media)
#   S3PROXY_HEAP       JVM heap options (default: -Xmx512m)
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONF_DIR="$SCRIPT_DIR/s3proxy"
POM="$CONF_DIR/pom.xml"
ROOT="$STATE_ROOT/s3proxy"
LIBS="$ROOT/libs"
DATA="$ROOT/data"
PROPS="$ROOT/s3proxy.properties"
LOG="$ROOT/s3proxy.log"
PIDFILE="$ROOT/s3proxy.pid"
HOST=127.0.0.1
PORT="${S3PROXY_PORT:-9000}"
IDENTITY="${S3PROXY_IDENTITY:-local-identity}"
CREDENTIAL="${S3PROXY_CREDENTIAL:-local-credential}"
BUCKETS="${S3PROXY_BUCKETS:-catalogue-media}"
HEAP="${S3PROXY_HEAP:--Xmx512m}"
START_TIMEOUT=90

ensure_libs() { maven_jars "$POM" "$LIBS" "$ROOT/maven.log" S3Proxy; }

# Rewritten on each start, so the port and keys may change between runs; the objects stay.
write_config() {
    cat >"$PROPS" <<CONF
# Written by deploy/local/s3proxy.sh on each start; edits are lost.
s3proxy.endpoint=http://$HOST:$PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$IDENTITY
s3proxy.credential=$CREDENTIAL
# filesystem-nio2: the maintained backend ("filesystem" is deprecated); it wants jclouds keys, unused.
jclouds.provider=filesystem-nio2
jclouds.identity=$IDENTITY
jclouds.credential=$CREDENTIAL
jclouds.filesystem.basedir=$DATA
CONF
}

is_running() { pid_runs "$PIDFILE" 'org\.gaul\.s3proxy\.Main'; }

cmd_start() {
    mkdir -p "$ROOT"
    exec 9>"$ROOT/.lock"
    flock 9
    if is_running; then
        log "already running (pid $(read_pid "$PIDFILE")) on http://$HOST:$PORT"
        return 0
    fi
    port_open "$HOST" "$PORT" && die "port $PORT on $HOST is taken by another process; set S3PROXY_PORT"
    ensure_java
    ensure_libs
    local bucket
    # With a filesystem backend a bucket is a folder.
    for bucket in $BUCKETS; do mkdir -p "$DATA/$bucket"; done
    # S3Proxy stopped, no write is in progress: a file of one that never finished is litter that
    # fails every listing meeting it (docs/operating/faults.md).
    python3 "$SCRIPT_DIR/s3proxy_litter.py" "$DATA"
    write_config
    local heap
    read -r -a heap <<<"$HEAP"
    nohup java "${heap[@]}" -XX:+ExitOnOutOfMemoryError -Dlogback.configurationFile="$CONF_DIR/logback.xml" \
        -cp "$LIBS/*" org.gaul.s3proxy.Main --properties "$PROPS" 9>&- </dev/null >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    local pid=$! deadline=$((SECONDS + START_TIMEOUT))
    printf 's3proxy.sh: waiting for http://%s:%s ' "$HOST" "$PORT"
    until port_open "$HOST" "$PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then echo; tail -n 30 "$LOG" >&2; die "S3Proxy exited during start-up"; fi
        if (( SECONDS >= deadline )); then echo; tail -n 30 "$LOG" >&2; cmd_stop || true; die "not ready after ${START_TIMEOUT} s"; fi
        printf '.'
        sleep 0.5
    done
    echo " ready"
    log "running (pid $pid): http://$HOST:$PORT, buckets: $BUCKETS, objects in $DATA"
}

cmd_stop() {
    if ! is_running; then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    local pid
    pid="$(read_pid "$PIDFILE")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill_for_good "$pid" || return 1
    rm -f "$PIDFILE"
    log "stopped"
}

cmd_status() {
    if is_running && port_open "$HOST" "$PORT"; then
        log "running (pid $(read_pid "$PIDFILE")) on http://$HOST:$PORT"
    else
        log "not running"
        return 1
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    reset) cmd_stop; rm -rf "$DATA"; log "deleted $DATA" ;;
    *) echo "usage: $0 start|stop|restart|status|reset" >&2; exit 2 ;;
esac
