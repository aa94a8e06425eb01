#!/usr/bin/env bash
# Creates <repo>/.venv with every package of the repository installed editable, plus the
# development tools. Re-run it whenever a pyproject.toml or requirements-dev.txt changes
# (`make install` does so by itself).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VENV="$REPO_ROOT/.venv"
PACKAGES=(shared testkit services/identity services/mailer services/catalogue services/portal services/newsletter)
PORTAL_TRANSLATIONS="$REPO_ROOT/services/portal/src/portal/translations"
# Separate projects outside the system (they depend on accounts-common by path, already installed).
EXAMPLES=(examples/verified-accounts-counter)

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [[ -n $candidate ]] || continue
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_python() {
    if find_python >/dev/null; then return 0; fi
    [[ $(id -u) -eq 0 ]] || die "Python 3.11+ with venv is required (apt-get install python3 python3-venv)"
    log "installing Python 3 with venv from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    find_python >/dev/null || die "Python 3.11+ is still missing after apt-get install"
}

# The catalogue renders its sample videos with ffmpeg (`catalogue seed`, run by `make run`).
ensure_ffmpeg() {
    if command -v ffmpeg >/dev/null; then return 0; fi
    if [[ $(id -u) -ne 0 ]]; then
        log "ffmpeg is missing and this is not root: \`catalogue seed\` will say so (apt-get install ffmpeg)"
        return 0
    fi
    log "installing ffmpeg from Debian's packages (the catalogue's sample videos)"
    apt_install ffmpeg
}

# Debian's packages for the project's own processes: a package's system service (nginx, Prometheus)
# must not start on install, where it would take the ports `make run` gives its own (a policy-rc.d
# refusing it, if the machine has none).
# `make run` starts Prometheus (and PostgreSQL's exporter); `make test` runs promtool on the alert rules and checks the
# dashboard's queries against a live Prometheus.
ensure_prometheus() {
    local missing=""
    for tool in prometheus promtool prometheus-postgres-exporter; do
        command -v "$tool" >/dev/null || missing+=" $tool"
    done
    [[ -n $missing ]] || return 0
    if [[ $(id -u) -ne 0 ]]; then
        log "missing:$missing and this is not root: the observability tests will say so (apt-get install prometheus)"
        return 0
    fi
    log "installing Prometheus from Debian's packages (make run scrapes the stack; make test runs promtool)"
    apt_install prometheus prometheus-postgres-exporter
}

# `make run` puts nginx in front of every public port (deploy/local/nginx_conf.py), run as a process
# of its own.
ensure_nginx() {
    if command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; then return 0; fi
    if [[ $(id -u) -ne 0 ]]; then
        log "nginx is missing and this is not root: \`make run\` and the slow-client test need it (apt-get install nginx)"
        return 0
    fi
    log "installing nginx from Debian's packages (in front of the services' ports; its service stays off)"
    apt_install nginx
}

# Copies rather than hard links: the uv cache and the venv may be on different file systems.
uv_install() { "$VENV/bin/uv" pip install -q --link-mode=copy --python "$VENV/bin/python" "$@"; }

main() {
    ensure_python
    ensure_ffmpeg
    ensure_prometheus
    ensure_nginx
    bash "$SCRIPT_DIR/portal-assets.sh"  # tus-js-client for the console's uploads (npm)
    local python
    python="$(find_python)"
    if [[ ! -x $VENV/bin/python ]]; then
        log "creating $VENV with $($python --version)"
        "$python" -m venv "$VENV"
    fi
    log "installing ${PACKAGES[*]} (editable) and the development tools"
    # uv (PyPI's, into the venv) fetches, builds and unpacks in parallel: a fresh clone's install
    # takes a third of pip's time, which `make test` on a fresh clone pays first.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv>=0.5"
    local args=()
    for package in "${PACKAGES[@]}"; do args+=(-e "$REPO_ROOT/$package"); done
    # Bytecode now, as pip would make it: uv leaves it to the first import, which never writes it where
    # PYTHONDONTWRITEBYTECODE is set, so every process would compile its libraries again (a service
    # starts on twice the CPU).
    uv_install --compile-bytecode "${args[@]}" -r "$REPO_ROOT/requirements-dev.txt"
    for example in "${EXAMPLES[@]}"; do uv_install --no-deps -e "$REPO_ROOT/$example"; done
    # Mailpit, the inbox of the local SMTP sink (deploy/local/smtp-sink.sh): built with Go and npm.
    bash "$SCRIPT_DIR/build-mailpit.sh" "$VENV/bin/mailpit"
    log "compiling the portal's translations"
    "$VENV/bin/pybabel" compile --use-fuzzy -d "$PORTAL_TRANSLATIONS" >/dev/null
    log "done: $VENV"
}

main "$@"
