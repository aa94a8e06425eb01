#!/usr/bin/env bash
# `make containers`: every image, built offline with Podman (no registry is needed).
#
#   deploy/containers/build.sh [IMAGE…]     (default: all; names as in the list below)
#
# debian-base  localhost/debian-base:bookworm, from Debian's packages with debootstrap
# python       localhost/accounts-python, the stand-in for python:3.11-slim
# postgres     localhost/accounts-postgres
# kafka        localhost/accounts-kafka, from the jars Maven resolves (as deploy/local/kafka.sh)
# smtp-sink    localhost/accounts-smtp-sink (Mailpit, built on the host by deploy/local/build-mailpit.sh)
# prometheus   localhost/accounts-prometheus (Debian's package, configured for deploy/compose.yaml)
# nginx        localhost/accounts-nginx, in front of the services' ports (deploy/local/nginx_conf.py)
# <service>    localhost/accounts-<service>, for every folder of services/ (deploy/containers/service.Dockerfile)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE="${PODMAN_STATE_DIR:-$REPO_ROOT/.state/podman}"
BASE=localhost/debian-base:bookworm
PYTHON_BASE=localhost/accounts-python
KAFKA_POM="$REPO_ROOT/deploy/local/kafka/pom.xml"
export CONTAINERS_CONF="$SCRIPT_DIR/containers.conf"

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

services() {
    local project
    for project in "$REPO_ROOT"/services/*/pyproject.toml; do basename "$(dirname "$project")"; done
}

# The Debian packages a service's processes run besides Python (build argument SYSTEM_PACKAGES).
system_packages() {
    case $1 in
        catalogue) echo ffmpeg ;;  # the transcoder and the sample seed
        *) echo "" ;;
    esac
}

# The mirror the machine's apt sources already name (no other is reachable here).
debian_mirror() {
    local mirror
    mirror="$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | head -n 1 | awk '{print $2}')"
    [[ -n $mirror ]] || mirror="$(grep -hsE '^deb .*/debian/? bookworm' /etc/apt/sources.list | head -n 1 | awk '{print $2}')"
    echo "${mirror:-http://deb.debian.org/debian}"
}

build_debian_base() {
    if podman image exists "$BASE"; then log "$BASE exists"; return 0; fi
    local rootfs="$STATE/rootfs" mirror
    mirror="$(debian_mirror)"
    log "debootstrap bookworm from $mirror (about a minute)"
    rm -rf "$rootfs"
    mkdir -p "$STATE"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$STATE/debootstrap.log" >&2; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    rm -rf "$rootfs"
}

# This machine reaches PyPI through a proxy with its own certificate authority: pip in a build
# step sees the host's CA bundle through a mount, which no image layer keeps.
pip_trust_mounts() {
    local bundle="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
    [[ -f $bundle ]] || return 0
    printf '[global]\ncert = /run/host-ca.crt\n' >"$STATE/pip.conf"
    echo "--volume=$bundle:/run/host-ca.crt:ro"
    echo "--volume=$STATE/pip.conf:/etc/pip.conf:ro"
}

# podman build IMAGE DOCKERFILE CONTEXT [BASE_IMAGE [OPTION…]]
build() {
    local image=$1 dockerfile=$2 context=$3 base=${4:-$BASE} started=$SECONDS
    podman build --quiet "${@:5}" --build-arg "BASE_IMAGE=$base" -f "$dockerfile" -t "$image" "$context" \
        >"$STATE/build-$(basename "$image").log" 2>&1 \
        || { tail -n 30 "$STATE/build-$(basename "$image").log" >&2; die "building $image failed"; }
    log "$image built in $((SECONDS - started)) s"
}

# The broker's jars plus kafka-tools (for the health check), resolved again only when the pom changes.
kafka_context() {
    local context="$STATE/kafka-context" want version
    want="$(sha256sum "$KAFKA_POM" "$SCRIPT_DIR/kafka"/* | sha256sum | cut -d' ' -f1)"
    if [[ ! -f $context/.sha256 || "$(cat "$context/.sha256")" != "$want" ]]; then
        version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
        log "resolving the Kafka $version jars with Maven"
        rm -rf "$context"
        mkdir -p "$context"
        { mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$context/libs" &&
          mvn -q -B -f "$KAFKA_POM" dependency:copy -Dartifact="org.apache.kafka:kafka-tools:$version" \
            -DoutputDirectory="$context/libs"; } >"$STATE/maven.log" 2>&1 \
            || { tail -n 30 "$STATE/maven.log" >&2; die "Maven could not resolve the Kafka jars"; }
        cp "$SCRIPT_DIR"/kafka/* "$context/"
        echo "$want" >"$context/.sha256"
    fi
    echo "$context"
}

# Mailpit (built, or copied from its cache, on the host: Go and npm are not in the images) and the
# SMTP fault handler.
smtp_sink_context() {
    local context="$STATE/smtp-sink-context"
    mkdir -p "$context"
    bash "$REPO_ROOT/deploy/local/build-mailpit.sh" "$context/mailpit" >&2
    cp "$REPO_ROOT/deploy/local/smtp_faults.py" "$REPO_ROOT/deploy/local/smtp_fault_rules.py" "$context/"
    echo "$context"
}

build_one() {
    case $1 in
        debian-base) build_debian_base ;;
        python) build "$PYTHON_BASE" "$SCRIPT_DIR/python.Dockerfile" "$SCRIPT_DIR" ;;
        postgres) build localhost/accounts-postgres "$SCRIPT_DIR/postgres/Dockerfile" "$SCRIPT_DIR/postgres" ;;
        kafka) build localhost/accounts-kafka "$SCRIPT_DIR/kafka/Dockerfile" "$(kafka_context)" ;;
        smtp-sink) build localhost/accounts-smtp-sink "$SCRIPT_DIR/smtp-sink.Dockerfile" "$(smtp_sink_context)" \
            "$PYTHON_BASE" $(pip_trust_mounts) ;;
        prometheus) build localhost/accounts-prometheus "$SCRIPT_DIR/prometheus.Dockerfile" "$REPO_ROOT" "$PYTHON_BASE" ;;
        nginx) build localhost/accounts-nginx "$SCRIPT_DIR/nginx.Dockerfile" "$REPO_ROOT" "$PYTHON_BASE" ;;
        *)
            [[ -f $REPO_ROOT/services/$1/pyproject.toml ]] || die "no image named '$1'"
            # The portal's static files hold tus-js-client from npm; the offline build copies them as they are.
            if [[ $1 == portal ]]; then bash "$REPO_ROOT/deploy/local/portal-assets.sh"; fi
            build "localhost/accounts-$1" "$SCRIPT_DIR/service.Dockerfile" "$REPO_ROOT" "$PYTHON_BASE" \
                --build-arg "SERVICE=$1" --build-arg "SYSTEM_PACKAGES=$(system_packages "$1")" $(pip_trust_mounts)
            ;;
    esac
}

main() {
    bash "$SCRIPT_DIR/podman.sh" install
    mkdir -p "$STATE"
    local images=("$@") started=$SECONDS
    if [[ ${#images[@]} -eq 0 ]]; then
        mapfile -t images < <(printf '%s\n' debian-base python postgres kafka smtp-sink prometheus nginx; services)
    fi
    local image
    for image in "${images[@]}"; do build_one "$image"; done
    log "done in $((SECONDS - started)) s"
}

main "$@"
