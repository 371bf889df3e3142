#!/usr/bin/env bash
# pg_cluster.sh — a throwaway PostgreSQL 15 cluster for the db tests (the CTest fixture db/pg_cluster).
#   pg_cluster.sh start STATE_DIR   initdb in a fresh temp dir, start postgres on a Unix socket in
#                                   it (no TCP), write STATE_DIR/conninfo (libpq keywords) and
#                                   STATE_DIR/datadir; exit non-zero if any step fails.
#   pg_cluster.sh stop STATE_DIR    stop that server (fast shutdown) and delete its directory.
#   pg_cluster.sh halt STATE_DIR    stop that server (fast shutdown), keeping its data (outage tests).
#   pg_cluster.sh resume STATE_DIR  start a halted server again, on the same socket.
# initdb and postgres refuse to run as root, so as root they run as `nobody` in a directory it
# owns; otherwise as the calling user. Settings are initdb's defaults (fsync on): the tests exercise
# the store as it runs in production. Binaries: $PG_BIN, else the newest of Debian's
# /usr/lib/postgresql/*/bin (15 on bookworm, the `postgresql` package's version elsewhere).
set -euo pipefail

usage() { echo "usage: $0 start|stop|halt|resume STATE_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
state=$2
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
bin=${bin:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

stop_cluster() {
  [ -f "$state/datadir" ] || return 0
  local dir
  dir=$(cat "$state/datadir")
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
  fi
  rm -rf -- "$dir"
  rm -f -- "$state/datadir" "$state/conninfo"
}

# listen_addresses='': the Unix socket in $dir only; max_connections for parallel test binaries
# (each race case opens four connections).
start_server() {
  as_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-k $1 -c listen_addresses='' -c max_connections=200" start >/dev/null ||
    { cat "$1/server.log" >&2; false; }
}

case "$action" in
  start)
    if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/postgres" ]; then
      echo "pg_cluster.sh: no PostgreSQL binaries in $bin (install postgresql-15: scripts/install-deps.sh)" >&2
      exit 1
    fi
    mkdir -p "$state"
    stop_cluster  # a cluster left behind by an interrupted run
    dir=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-pg-XXXXXX")
    echo "$dir" >"$state/datadir"
    trap 'stop_cluster' ERR
    if [ "$(id -u)" -eq 0 ]; then chown nobody "$dir"; fi
    chmod 0700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; false; }
    start_server "$dir"
    echo "host=$dir port=5432 user=postgres dbname=postgres" >"$state/conninfo"
    ;;
  stop)
    stop_cluster
    ;;
  halt)
    as_owner "$bin/pg_ctl" -D "$(cat "$state/datadir")/data" -m fast -w -t 30 stop >/dev/null
    ;;
  resume)
    start_server "$(cat "$state/datadir")"
    ;;
  *) usage ;;
esac
