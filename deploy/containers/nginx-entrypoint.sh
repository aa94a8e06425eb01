#!/bin/sh
# nginx-entrypoint ROUTE/MEDIA OPTIONS…: writes the configuration under /tmp/nginx and runs nginx
# in the foreground as this (unprivileged) user.
set -eu
config="$(python /app/nginx_conf.py --prefix /tmp/nginx --listen-host 0.0.0.0 "$@")"
exec nginx -p /tmp/nginx -c "$config" -e /tmp/nginx/error.log
