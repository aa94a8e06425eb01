#!/bin/bash
# Writes server.properties from the KAFKA_* variables (as the apache/kafka image reads them:
# "_" is ".", "__" is "_", "___" is "-"), formats the log folder once, then runs the broker.
set -euo pipefail

KAFKA=/opt/kafka
PROPS=/var/lib/kafka/server.properties
CLASSPATH_ARGS=(-cp "$KAFKA/libs/*" -Dlog4j2.configurationFile="$KAFKA/config/log4j2.properties")

property_name() {
    local name=${1#KAFKA_}
    name=${name//___/-}
    name=${name//__/@}
    name=${name//_/.}
    name=${name//@/_}
    echo "${name,,}"
}

write_properties() {
    local variable
    : >"$PROPS"
    while IFS='=' read -r variable _; do
        [[ $variable == KAFKA_HEAP_OPTS ]] && continue
        echo "$(property_name "$variable")=${!variable}" >>"$PROPS"
    done < <(env | grep '^KAFKA_' | sort)
}

write_properties
log_dir="$(sed -n 's/^log\.dirs=//p' "$PROPS")"
if [[ ! -f $log_dir/meta.properties ]]; then
    java "${CLASSPATH_ARGS[@]}" kafka.tools.StorageTool format \
        -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$PROPS" >/dev/null
fi
read -r -a heap <<<"$KAFKA_HEAP_OPTS"
exec java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "${CLASSPATH_ARGS[@]}" kafka.Kafka "$PROPS"
