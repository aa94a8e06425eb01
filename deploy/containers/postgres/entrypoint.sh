#!/bin/bash
# Initialises $PGDATA on first start (user, password, init scripts), then runs the server.
set -euo pipefail

user="${POSTGRES_USER:-postgres}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
    echo "postgres-entrypoint: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    initdb -D "$PGDATA" -U "$user" --auth-local=trust --auth-host="$auth" --encoding=UTF8 --locale=C.UTF-8 \
        --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") >/dev/null
    echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    for script in /docker-entrypoint-initdb.d/*.sql; do
        [[ -f $script ]] && psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -f "$script"
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
