#!/usr/bin/env bash
# Local Apache Kafka for development and tests: one KRaft node (broker and
# controller in one JVM) on 127.0.0.1, without Docker and without a Kafka
# tarball; or, with KAFKA_BROKERS=3, a cluster of three such nodes (a
# three-voter controller quorum, replication factor 3, min.insync.replicas=2:
# the production settings of deploy/k8s). Maven copies the broker's jars from
# deploy/local/kafka/pom.xml.
#
#   deploy/local/kafka.sh start|stop|restart|status|reset
#
# Environment:
#   STATE_DIR              state folder (default: <repo>/.state); everything in $STATE_DIR/kafka
#                          (a cluster's nodes in $STATE_DIR/kafka/node-<n>)
#   KAFKA_BROKERS          number of nodes (default: 1)
#   KAFKA_PORT             client (PLAINTEXT) port (default: 9092); for a cluster, one per node
#                          separated by commas, or the first one (then +2 per node)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default: 9093); for a cluster as KAFKA_PORT
#   KAFKA_NODE             with a cluster: act on this node only (1..KAFKA_BROKERS)
#   KAFKA_HEAP             JVM heap options (default: -Xmx512m -Xms512m)
#   KAFKA_LIBS_FROM        another state folder's kafka/libs: its jars are taken (hard links) when
#                          Maven resolved them from the same pom, so a private cluster skips Maven
#   KAFKA_SASL_PORT        one node only: a SASL_PLAINTEXT listener (SCRAM-SHA-512) on this port too,
#                          for the users of KAFKA_SCRAM_USERS
#   KAFKA_SCRAM_USERS      name=password,…: the SCRAM-SHA-512 users a new node is formatted with
#
# Topics are not created here (auto.create.topics.enable=false): the services do that.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONF_DIR="$SCRIPT_DIR/kafka"
POM="$CONF_DIR/pom.xml"
LOG4J_CONF="$CONF_DIR/log4j2.properties"
JAVA_CMD=()

KAFKA_ROOT="$STATE_ROOT/kafka"
LIBS="$KAFKA_ROOT/libs"
BROKERS="${KAFKA_BROKERS:-1}"
HOST=127.0.0.1
PORTS="${KAFKA_PORT:-9092}"
CONTROLLER_PORTS="${KAFKA_CONTROLLER_PORT:-9093}"

# Set by select_node for the node acted on.
NODE=1 KDIR="" DATA="" LOG="" OUT="" PIDFILE="" PROPS="" PORT="" CONTROLLER_PORT=""
HEAP="${KAFKA_HEAP:--Xmx512m -Xms512m}"
START_TIMEOUT=90
STOP_TIMEOUT=30

# Re-resolve only when the jars are missing or the pom changed since they were copied.
ensure_libs() {
    local want from="${KAFKA_LIBS_FROM:-}"
    want="$(pom_hash "$POM")"
    [[ -f $LIBS/.pom.sha256 && "$(cat "$LIBS/.pom.sha256")" == "$want" ]] && return 0
    if [[ -n $from && -f $from/.pom.sha256 && "$(cat "$from/.pom.sha256")" == "$want" ]]; then
        rm -rf "$LIBS.tmp"
        cp -al "$from" "$LIBS.tmp" 2>/dev/null || cp -a "$from" "$LIBS.tmp"
        rm -rf "$LIBS"
        mv "$LIBS.tmp" "$LIBS"
        log "jars ready in $LIBS (taken from $from)"
        return 0
    fi
    maven_jars "$POM" "$LIBS" "$KAFKA_ROOT/maven.log" Kafka
}

# The n-th port of a list given as "p1,p2,p3" or as the first port "p1" (then p1+2, p1+4).
nth_port() {
    local list=$1 n=$2 ports
    IFS=, read -r -a ports <<<"$list"
    if (( ${#ports[@]} >= n )); then echo "${ports[n - 1]}"; else echo $(( ports[0] + 2 * (n - 1) )); fi
}

# Point the globals at node n: its folder, files and ports. A single node keeps the
# folder layout of before clusters existed ($STATE_DIR/kafka).
select_node() {
    NODE=$1
    if (( BROKERS == 1 )); then KDIR=$KAFKA_ROOT; else KDIR="$KAFKA_ROOT/node-$NODE"; fi
    DATA="$KDIR/data"
    LOG="$KDIR/server.log"
    OUT="$KDIR/server.out"   # JVM stdout/stderr: crashes before log4j is up land here
    PIDFILE="$KDIR/kafka.pid"
    PROPS="$KDIR/server.properties"
    PORT="$(nth_port "$PORTS" "$NODE")"
    CONTROLLER_PORT="$(nth_port "$CONTROLLER_PORTS" "$NODE")"
}

# The nodes a command acts on: KAFKA_NODE, or all of them.
nodes() {
    if [[ -n ${KAFKA_NODE:-} ]]; then
        [[ $KAFKA_NODE =~ ^[0-9]+$ ]] && (( KAFKA_NODE >= 1 && KAFKA_NODE <= BROKERS )) \
            || die "KAFKA_NODE must be a node number from 1 to $BROKERS"
        echo "$KAFKA_NODE"
    else
        seq 1 "$BROKERS"
    fi
}

# "n@host:port,…" (voters) or "host:port,…" (bootstrap servers) over every node.
node_list() {
    local ports=$1 prefix_ids=$2 n items=()
    for n in $(seq 1 "$BROKERS"); do
        if [[ $prefix_ids == yes ]]; then items+=("$n@$HOST:$(nth_port "$ports" "$n")"); else items+=("$HOST:$(nth_port "$ports" "$n")"); fi
    done
    local IFS=,
    echo "${items[*]}"
}

# The java command line for a Kafka main class, into the array JAVA_CMD.
java_cmd() {
    local heap
    read -r -a heap <<<"$HEAP"
    JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONF"
        -Dkafka.logs.dir="$KDIR" -cp "$LIBS/*" "$@")
}

# For the command-line tools, which must not write into the broker's log.
kafka_tool() { java_cmd -Dkafka.log.file=tools.log "$@"; "${JAVA_CMD[@]}"; }

# Three copies of everything with two of them needed for a write, as in production; a single
# node has one copy.
replication_settings() {
    local replicas=$(( BROKERS < 3 ? BROKERS : 3 ))
    local min_isr=$(( replicas < 2 ? 1 : 2 ))
    cat <<EOF
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
EOF
}

# Rewritten on each start, so the ports may change between runs; the data
# does not depend on them (the controller is named by node id).
write_config() {
    cat >"$PROPS" <<EOF
# Written by deploy/local/kafka.sh on each start; edits are lost.
process.roles=broker,controller
node.id=$NODE
controller.quorum.voters=$(node_list "$CONTROLLER_PORTS" yes)
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT$(sasl_listener)
advertised.listeners=PLAINTEXT://$HOST:$PORT$(sasl_listener)
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
$(sasl_settings)
controller.listener.names=CONTROLLER
log.dirs=$DATA

num.partitions=3
auto.create.topics.enable=false
$(replication_settings)
group.initial.rebalance.delay.ms=0
# Fewer internal partitions: the first consumer group or transaction is ready sooner.
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=3
# After a crash (kill -9) the new process cannot register until the old
# registration expires: 4 s instead of the default 9 s.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
# Two cores: fewer threads than the defaults are plenty for local traffic.
num.network.threads=2
num.io.threads=4
# The log cleaner (compacting __consumer_offsets here) holds its dedupe buffer for good: 128 MiB
# by default, a quarter of the 512 MiB heap, which kept the old generation over G1's threshold so
# that concurrent cycles ran every ~30 s, each a burst of CPU stalling signups on two cores.
# 16 MiB holds ~600,000 keys per cleaning, far more than local topics have.
log.cleaner.dedupe.buffer.size=16777216
EOF
}

# Every node of a cluster is formatted with the same id, kept next to the nodes: what
# `StorageTool random-uuid` prints (16 random bytes, URL-safe base64 without padding, not starting
# with "-"), made without starting a JVM for it (1.3 s of CPU, 3-4.5 s on a busy machine).
cluster_id() {
    local file="$KAFKA_ROOT/cluster.id" id="-"
    if [[ ! -s $file ]]; then
        while [[ $id == -* ]]; do
            id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        done
        echo "$id" >"$file.tmp"
        mv "$file.tmp" "$file"
    fi
    cat "$file"
}

# The clients' SASL listener (KAFKA_SASL_PORT), as listed in listeners= and advertised.listeners=.
sasl_listener() { [[ -z ${KAFKA_SASL_PORT:-} ]] || echo ",SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT"; }

sasl_settings() {
    [[ -n ${KAFKA_SASL_PORT:-} ]] || return 0
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
}

format_storage() {
    [[ -f $DATA/meta.properties ]] && return 0
    local cluster_id pair users scram=()
    local out="$KDIR/format.out"
    cluster_id="$(cluster_id)"
    IFS=, read -r -a users <<<"${KAFKA_SCRAM_USERS:-}"
    for pair in "${users[@]}"; do  # name=password: a SCRAM-SHA-512 user of the new node
        [[ $pair == *=* ]] || die "KAFKA_SCRAM_USERS: expected name=password, got '$pair'"
        scram+=(--add-scram "SCRAM-SHA-512=[name=${pair%%=*},password=${pair#*=}]")
    done
    log "formatting $DATA (cluster id $cluster_id)"
    # With controller.quorum.voters (a static quorum) format takes no --standalone.
    if ! kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" "${scram[@]}" >>"$out" 2>&1; then
        tail -n 20 "$out" >&2
        die "kafka.tools.StorageTool format failed"
    fi
}

# True if the pid file names a live Kafka JVM.
is_running() { pid_runs "$PIDFILE" 'kafka\.Kafka '; }

# The JVM writes this line only after the broker has caught up with the
# metadata log and been unfenced, i.e. when clients can really use it.
started_logged() { grep -q 'Kafka Server started' "$LOG" 2>/dev/null; }

launch() {
    # A fresh log for each run, so readiness is judged on this run's lines.
    [[ -f $LOG ]] && mv -f "$LOG" "$LOG.prev"
    : >"$OUT"
    # A GC log as Kafka's own kafka-server-start.sh keeps: its pauses show in every latency.
    java_cmd "-Xlog:gc*:file=$KDIR/gc.log:time,uptime,level,tags:filecount=2,filesize=20M" \
        kafka.Kafka "$PROPS"
    # nohup execs java, so $! is the broker's pid. fd 9 holds the script's
    # lock: the broker must not inherit it.
    nohup "${JAVA_CMD[@]}" 9>&- </dev/null >>"$OUT" 2>&1 &
    echo $! >"$PIDFILE"
}

wait_ready() {
    local pid deadline=$((SECONDS + START_TIMEOUT))
    pid="$(read_pid "$PIDFILE")"
    printf 'kafka.sh: waiting for broker %s on %s:%s ' "$NODE" "$HOST" "$PORT"
    until started_logged && port_open "$HOST" "$PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then echo; log "the broker exited during start-up" >&2; return 1; fi
        if (( SECONDS >= deadline )); then echo; log "not ready after ${START_TIMEOUT} s" >&2; return 1; fi
        printf '.'
        sleep 1
    done
    echo " ready"
}

fail_start() {
    if [[ -s $LOG ]]; then
        log "start failed; last 40 lines of $LOG:" >&2
        tail -n 40 "$LOG" >&2
    else
        log "start failed" >&2
    fi
    if [[ -s $OUT ]]; then
        log "last lines of $OUT:" >&2
        tail -n 20 "$OUT" >&2
    fi
    stop_broker >/dev/null 2>&1 || true
    exit 1
}

stop_broker() {
    if ! is_running; then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    local pid deadline=$((SECONDS + STOP_TIMEOUT))
    pid="$(read_pid "$PIDFILE")"
    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS >= deadline )); then
            log "still running after ${STOP_TIMEOUT} s; sending SIGKILL"
            kill_for_good "$pid" || return 1
            break
        fi
        sleep 0.5
    done
    rm -f "$PIDFILE"
    log "stopped"
}

# Serialise concurrent invocations (e.g. make -j starting it twice).
take_lock() {
    mkdir -p "$KAFKA_ROOT"
    exec 9>"$KAFKA_ROOT/.lock"
    flock 9
}

# Launch node $NODE unless it is running already; true if it was launched (or is still starting).
launch_node() {
    mkdir -p "$KDIR"
    if is_running; then
        port_open "$HOST" "$PORT" || return 0  # another invocation's start-up still in progress
        log "broker $NODE already running (pid $(read_pid "$PIDFILE")) on $HOST:$PORT"
        return 1
    fi
    rm -f "$PIDFILE"
    port_open "$HOST" "$PORT" && die "port $PORT on $HOST is taken by another process; set KAFKA_PORT"
    port_open "$HOST" "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT on $HOST is taken by another process; set KAFKA_CONTROLLER_PORT"
    mkdir -p "$DATA"
    write_config
    format_storage
    log "starting Kafka broker $NODE on $HOST:$PORT (data $DATA, log $LOG)"
    launch
}

cmd_start() {
    ensure_java
    take_lock
    ensure_libs
    # Every node first, then the waits: the nodes of a cluster become ready together (quorum).
    local n launched=()
    for n in $(nodes); do
        select_node "$n"
        if launch_node; then launched+=("$n"); fi
    done
    for n in "${launched[@]}"; do
        select_node "$n"
        wait_ready || fail_start
        log "broker $n running (pid $(read_pid "$PIDFILE"))"
    done
    log "bootstrap servers: $(node_list "$PORTS" no)"
}

# Stop the nodes all at once: the last node of a cluster stopped alone would wait for a quorum that
# is gone. False if any of them did not stop (each says so).
stop_nodes() {
    local n pid stopping=() rc=0
    for n in $(nodes); do
        (select_node "$n"; stop_broker) &
        stopping+=($!)
    done
    for pid in "${stopping[@]}"; do wait "$pid" || rc=1; done
    return $rc
}

cmd_stop() {
    take_lock
    stop_nodes
}

cmd_status() {
    local n rc=0
    for n in $(nodes); do
        select_node "$n"
        if is_running && port_open "$HOST" "$PORT"; then
            log "broker $n running (pid $(read_pid "$PIDFILE")) on $HOST:$PORT"
        else
            log "broker $n not running"
            rc=1
        fi
    done
    return $rc
}

cmd_reset() {
    take_lock
    stop_nodes || die "a node did not stop: its data is kept"
    local n
    for n in $(nodes); do
        select_node "$n"
        rm -rf "$DATA" "$PROPS"
        log "deleted $DATA"
    done
    [[ -n ${KAFKA_NODE:-} ]] || rm -f "$KAFKA_ROOT/cluster.id"
}

main() {
    select_node 1
    case "${1:-}" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        restart) cmd_stop; cmd_start ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        *) echo "usage: $0 {start|stop|restart|status|reset}" >&2; exit 2 ;;
    esac
}

main "$@"
