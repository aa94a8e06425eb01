#!/usr/bin/env bash
# Runs a command under a monotonic clock that reads about a minute, as on a machine that has just
# booted (a Linux time namespace), so nothing can pass only because the machine has been up a while:
# `time.monotonic()` counts from boot, and code that starts a clock at 0.0 works only on old machines.
#
#   deploy/local/young-clock.sh COMMAND [ARG…]
set -euo pipefail

[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARG…]" >&2; exit 2; }

YOUNG_S=60
uptime_s="$(cut -d. -f1 /proc/uptime)"
shift_s=$((uptime_s > YOUNG_S ? uptime_s - YOUNG_S : 0))
# Root may make a time namespace directly; anyone else makes it inside a user namespace of their own.
as_user=()
[[ $EUID -eq 0 ]] || as_user=(--user --map-root-user)
exec unshare "${as_user[@]}" --time --fork --monotonic="-$shift_s" --boottime="-$shift_s" "$@"
