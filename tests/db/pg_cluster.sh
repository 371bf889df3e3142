#!/usr/bin/env bash
# pg_cluster.sh — a throwaway PostgreSQL 15 cluster for the db tests (the CTest fixture db/pg_cluster).
#   pg_cluster.sh start STATE_DIR   initdb in a fresh temp dir, start postgres on a Unix socket in
#                                   it (no TCP), write STATE_DIR/conninfo (libpq keywords) and
#                                   STATE_DIR/datadir; if any step fails, write the reason to
#                                   STATE_DIR/error instead and still exit 0 (see below).
#   pg_cluster.sh start STATE_DIR --tcp
#                                   the same, and also on a free port of 127.0.0.1 (written to
#                                   STATE_DIR/port) where every connection must authenticate with
#                                   a password (scram-sha-256); the Unix socket stays trust.
#   pg_cluster.sh stop STATE_DIR    stop that server (fast shutdown) and delete its directory.
#   pg_cluster.sh halt STATE_DIR    stop that server (fast shutdown), keeping its data (outage tests).
#   pg_cluster.sh resume STATE_DIR  start a halted server again, on the same socket and port.
# initdb and postgres refuse to run as root, so as root they run as `nobody` in a directory it
# owns; otherwise as the calling user. Settings are initdb's defaults (fsync on): the tests exercise
# the store as it runs in production. Only initdb itself skips its final sync of the new files
# (--no-sync: a throwaway cluster need not survive a power cut; 2-5 s less per cluster). Binaries: $PG_BIN, else the newest of Debian's
# /usr/lib/postgresql/*/bin (15 on bookworm, the `postgresql` package's version elsewhere).
set -euo pipefail

usage() { echo "usage: $0 start STATE_DIR [--tcp] | stop|halt|resume STATE_DIR" >&2; exit 2; }
[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = start ] && [ "$3" = --tcp ]; } || usage
action=$1
state=$2
tcp=${3:-}
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
  rm -f -- "$state/datadir" "$state/conninfo" "$state/port"
}

# Starts the server in $1 on the port and listen address start chose ($1/listen), as
# start_cluster does and as resume does again after a halt.
start_server() {
  local port listen
  { read -r port; read -r listen || true; } <"$1/listen"
  as_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-k $1 -c listen_addresses='$listen' -c port=$port -c max_connections=200" start \
    >/dev/null || { tail -n 5 "$1/server.log" >&2; return 1; }
}

# Starts the cluster; on any failure returns 1 with the reason on stderr (and removes what it made).
start_cluster() {
  if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/postgres" ]; then
    echo "no PostgreSQL binaries in $bin (install postgresql-15: scripts/install-deps.sh)" >&2
    return 1
  fi
  stop_cluster  # a cluster left behind by an interrupted run
  dir=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-pg-XXXXXX") || return 1
  echo "$dir" >"$state/datadir"
  if [ "$(id -u)" -eq 0 ]; then chown nobody "$dir" || return 1; fi
  chmod 0700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --no-sync --auth-local=trust \
    --auth-host="$([ -n "$tcp" ] && echo scram-sha-256 || echo trust)" --encoding=UTF8 \
    --locale=C >"$dir/initdb.log" 2>&1 || { tail -n 5 "$dir/initdb.log" >&2; return 1; }
  # listen_addresses='': the Unix socket in $dir only (with --tcp also 127.0.0.1 on a free port);
  # max_connections for parallel test binaries (each race case opens four connections).
  local port=5432 listen=""
  if [ -n "$tcp" ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || return 1
    listen=127.0.0.1
    echo "$port" >"$state/port"
  fi
  printf '%s\n%s\n' "$port" "$listen" >"$dir/listen"
  start_server "$dir" || return 1
  echo "host=$dir port=$port user=postgres dbname=postgres" >"$state/conninfo"
}

case "$action" in
  start)
    # A cluster that cannot start fails only the PostgreSQL cases (each names the reason kept in
    # STATE_DIR/error, tests/db/pg_fixture.h); the SQLite cases, which share this fixture, run.
    mkdir -p "$state"
    rm -f -- "$state/error"
    if ! start_cluster 2>"$state/error"; then
      stop_cluster
      echo "pg_cluster.sh: no cluster: $(tr '\n' ' ' <"$state/error")" >&2
      exit 0
    fi
    rm -f -- "$state/error"
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
