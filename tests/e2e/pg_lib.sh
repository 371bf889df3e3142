# pg_lib.sh — replicas on one PostgreSQL for the e2e tests, sourced after lib.sh and service_lib.sh:
# PostgreSQL 15 servers on free loopback ports (a primary, a synchronous streaming standby), N
# provisiond replicas sharing one state dir's CA on `--store postgresql://...`, HAProxy in front.
# Everything is stopped by the EXIT trap, also on failure. Needs postgresql-15 and haproxy.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/pg_basebackup" "$PG_BIN/psql" haproxy; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool not found: install postgresql-15 and haproxy (scripts/install-deps.sh)" >&2
    exit 1
  }
done

# The servers' directories: outside $T (mode 0700, root's) so that `nobody` can own them.
PG_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-e2e-pg.XXXXXX")
chmod 0755 "$PG_ROOT"
declare -A PG_PORT=() PG_OPTS=()
REPLICA_PIDS=()
REPLICA_PORTS=()
REPLICA_MPORTS=()
REPLICA_ARGS=()
HAPROXY_PID=""
HPORT=""

pg_lib_cleanup() {
  local pid name
  [ -z "$PROBE_PID" ] || touch "$T/probe.stop"
  for pid in "${REPLICA_PIDS[@]}" "$HAPROXY_PID" "$PROBE_PID"; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  for name in "${!PG_PORT[@]}"; do
    pg_owner "$PG_BIN/pg_ctl" -D "$PG_ROOT/$name" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    cp "$PG_ROOT/$name.log" "$T/pg-$name.log" 2>/dev/null || true
  done
  rm -rf -- "$PG_ROOT"
  service_cleanup
}
trap pg_lib_cleanup EXIT

# initdb and postgres refuse to run as root: as root they run as `nobody`.
pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# pg_init NAME: a new cluster in $PG_ROOT/NAME (trust on loopback; replication allowed by initdb's
# default pg_hba.conf), its port in PG_PORT[NAME]. initdb and pg_basebackup skip their final sync
# of the files they write (--no-sync; the servers keep fsync on): a throwaway cluster need not
# survive a power cut, and that sync took seconds under load.
pg_init() {
  [ "$(id -u)" -ne 0 ] || chown nobody "$PG_ROOT"
  pg_owner "$PG_BIN/initdb" -D "$PG_ROOT/$1" -U postgres --no-sync --auth=trust --encoding=UTF8 \
    --locale=C >"$T/initdb-$1.log" 2>&1 || { cat "$T/initdb-$1.log" >&2; fail "initdb $1"; finish; }
  PG_PORT[$1]=$(free_port)
}

# pg_start NAME [-c SETTING=VALUE ...]: starts it (the settings are kept for pg_restart_server).
pg_start() {
  local name=$1; shift
  [ $# -eq 0 ] || PG_OPTS[$name]="$*"
  pg_owner "$PG_BIN/pg_ctl" -D "$PG_ROOT/$name" -l "$PG_ROOT/$name.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=${PG_PORT[$name]} -k $PG_ROOT \
        -c max_connections=100 ${PG_OPTS[$name]:-}" start >/dev/null ||
    { tail -n 20 "$PG_ROOT/$name.log" >&2; fail "postgres $name did not start"; finish; }
}

pg_stop() {  # pg_stop NAME [MODE]: fast shutdown by default
  pg_owner "$PG_BIN/pg_ctl" -D "$PG_ROOT/$1" -m "${2:-fast}" -w -t 60 stop >/dev/null
}

pg_kill() {  # pg_kill NAME: SIGKILL to the postmaster (its backends then exit on their own)
  kill -KILL "$(head -n 1 "$PG_ROOT/$1/postmaster.pid")"
}

pg_promote() { pg_owner "$PG_BIN/pg_ctl" -D "$PG_ROOT/$1" -w -t 60 promote >/dev/null; }

# pg_standby NAME PRIMARY: a streaming standby made by pg_basebackup -R, started with
# cluster_name=NAME (the name synchronous_standby_names on the primary refers to).
pg_standby() {
  local name=$1 primary=$2
  pg_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "${PG_PORT[$primary]}" -U postgres \
    -D "$PG_ROOT/$name" -R -X stream -c fast --no-sync >"$T/basebackup-$name.log" 2>&1 ||
    { cat "$T/basebackup-$name.log" >&2; fail "pg_basebackup $name"; finish; }
  PG_PORT[$name]=$(free_port)
  pg_start "$name" -c cluster_name="$name"
}

# pgq NAME [psql args...]: psql on NAME's provisiond database, unaligned, no headers.
pgq() {
  local name=$1; shift
  "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT[$name]}" -U postgres \
    -d provisiond "$@"
}

# pg_url NAME...: the store URL of those servers (several: libpq's multi-host form that connects to
# whichever is writable).
pg_url() {
  local hosts="" name
  for name in "$@"; do hosts+="${hosts:+,}127.0.0.1:${PG_PORT[$name]}"; done
  if [ $# -gt 1 ]; then
    echo "postgresql://postgres@$hosts/provisiond?target_session_attrs=read-write"
  else
    echo "postgresql://postgres@$hosts/provisiond"
  fi
}

# pg_create_store NAME: the provisiond database on NAME, its schema made by `provisiond migrate`.
pg_create_store() {
  "$PG_BIN/psql" -X -qAt -h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d postgres \
    -c "CREATE DATABASE provisiond" >/dev/null
  "$PROVISIOND" migrate --store "$(pg_url "$1")" >/dev/null
}

# start_replica I: replica I (0-based) on its own fixed port REPLICA_PORTS[I] and metrics port,
# sharing $T/state's CA, with "${REPLICA_ARGS[@]}" (which carries --store and --trust). Waits for
# its "listening on" line; its log is $T/replica-I.log (appended across restarts).
start_replica() {
  local i=$1 log="$T/replica-$1.log" before
  touch "$log"
  before=$(grep -c 'listening on' "$log" || true)
  "$PROVISIOND" serve --state-dir "$T/state" --listen "127.0.0.1:${REPLICA_PORTS[$i]}" \
    --metrics-listen "127.0.0.1:${REPLICA_MPORTS[$i]}" --workers 1 \
    --proxy-protocol-from 127.0.0.1/32 "${REPLICA_ARGS[@]}" 2>>"$log" &
  REPLICA_PIDS[$i]=$!
  for _ in $(seq 1 150); do
    [ "$(grep -c 'listening on' "$log" || true)" -gt "$before" ] && return 0
    kill -0 "${REPLICA_PIDS[$i]}" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$log" >&2
  fail "replica $i did not start"
  finish
}

# start_replicas N: N replicas on free ports.
start_replicas() {
  local i
  for i in $(seq 0 $(($1 - 1))); do
    REPLICA_PORTS[$i]=$(free_port)
    REPLICA_MPORTS[$i]=$(free_port)
    start_replica "$i"
  done
}

kill_replica() {  # kill_replica I: SIGKILL, reaped
  kill -KILL "${REPLICA_PIDS[$1]}" 2>/dev/null || true
  wait "${REPLICA_PIDS[$1]}" 2>/dev/null || true
  REPLICA_PIDS[$1]=""
}

# stop_replicas: SIGTERM each; a replica that does not exit 0 within 15 s is a failure.
stop_replicas() {
  local i rc
  for i in "${!REPLICA_PIDS[@]}"; do
    [ -n "${REPLICA_PIDS[$i]}" ] || continue
    kill -TERM "${REPLICA_PIDS[$i]}" 2>/dev/null || true
  done
  for i in "${!REPLICA_PIDS[@]}"; do
    [ -n "${REPLICA_PIDS[$i]}" ] || continue
    for _ in $(seq 1 150); do kill -0 "${REPLICA_PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${REPLICA_PIDS[$i]}" 2>/dev/null; then
      fail "replica $i ignored SIGTERM"
      kill -KILL "${REPLICA_PIDS[$i]}"
    fi
    rc=0
    wait "${REPLICA_PIDS[$i]}" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || fail "replica $i exited with status $rc after SIGTERM"
    REPLICA_PIDS[$i]=""
  done
}

# start_haproxy: HAProxy in TCP mode on HPORT, round robin over every replica with send-proxy-v2;
# a replica that refuses connections is taken out by the health check, and a connection it refuses
# is redispatched to another.
start_haproxy() {
  HPORT=$(free_port)
  {
    printf 'global\n  maxconn 512\ndefaults\n  mode tcp\n  retries 3\n  option redispatch\n'
    printf '  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n'
    printf 'frontend devices\n  bind 127.0.0.1:%s\n  default_backend provisiond\n' "$HPORT"
    printf 'backend provisiond\n  balance roundrobin\n'
    local i
    for i in "${!REPLICA_PORTS[@]}"; do
      printf '  server replica%s 127.0.0.1:%s send-proxy-v2 %s\n' "$i" "${REPLICA_PORTS[$i]}" \
        'check check-send-proxy inter 1s fall 1 rise 1'
    done
  } >"$T/haproxy.cfg"
  haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && return 0
    kill -0 "$HAPROXY_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$T/haproxy.log" >&2
  fail "haproxy did not start"
  finish
}

# post PORT CLIENT_BASE CSR_B64 OUT [endpoint]: an EST POST from 127.0.0.2 straight to a replica's
# PORT (the replicas expect a PROXY header only from HAProxy's 127.0.0.1) with CLIENT_BASE.crt/.key;
# prints the HTTP status (000: no HTTP answer), the body in OUT, curl's stderr in OUT.err.
post() {
  curl -sS --interface 127.0.0.2 --resolve "localhost:$1:127.0.0.1" --cacert "$CA" \
    --cert "$2.crt" --key "$2.key" -o "$4" -w '%{http_code}' --max-time 20 \
    -H 'Content-Type: application/pkcs10' --data-binary @"$3" \
    "https://localhost:$1/.well-known/est/${5:-simpleenroll}" 2>"$4.err" || true
}

# serial_of BODY: the serial of the certificate in an EST certs-only PKCS#7 reply (lower-case hex).
serial_of() {
  tr -d '\r' <"$1" | base64 -d | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'
}

# received_serials FLEET_DIR: the serial (lower-case hex, even length, as the store writes it) of
# every operational certificate device-sim stored, one a line (one process, not one per file).
received_serials() {
  python3 - "$1" <<'PY'
import glob, sys
from cryptography import x509
for path in sorted(glob.glob(sys.argv[1] + "/devices/*/operational.crt")):
    h = format(x509.load_pem_x509_certificate(open(path, "rb").read()).serial_number, "x")
    print(h if len(h) % 2 == 0 else "0" + h)
PY
}

# Outage probe: fresh devices of $T/fleet enroll one at a time through HAProxy, each once.
# prepare_probe FIRST LAST makes their CSRs; start_probe FIRST LAST runs them (0.1 s apart) until
# they are used up or stop_probe, one line per attempt in $T/probe.log: "EPOCH_SECONDS STATUS
# RETRY_AFTER SECONDS_TAKEN" (RETRY_AFTER "-" without one); the serials received go to
# $T/probe.received.
PROBE_PID=""
prepare_probe() {
  mkdir -p "$T/probe"
  local k id
  for k in $(seq "$1" "$2"); do id=$(printf 'dev-%05d' "$k"); make_csr "$id" "$T/probe/$id"; done
}
# probe_post ID: one enrollment of probe device ID through HAProxy -> "STATUS SECONDS_TAKEN".
probe_post() {
  curl -sS --resolve "localhost:$HPORT:127.0.0.1" --cacert "$CA" \
    --cert "$T/fleet/devices/$1/bootstrap.crt" --key "$T/fleet/devices/$1/bootstrap.key" \
    -D "$T/probe/$1.hdr" -o "$T/probe/$1.out" -w '%{http_code} %{time_total}' --max-time 15 \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/probe/$1.b64" \
    "https://localhost:$HPORT/.well-known/est/simpleenroll" 2>/dev/null || true
}
start_probe() {
  : >"$T/probe.received"
  rm -f "$T/probe.stop"
  (
    for k in $(seq "$1" "$2"); do
      [ -f "$T/probe.stop" ] && break
      id=$(printf 'dev-%05d' "$k")
      t=$(date +%s.%N)
      code=$(probe_post "$id")
      read -r code took <<<"$code"
      ra=$(tr -d '\r' <"$T/probe/$id.hdr" 2>/dev/null | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
      echo "$t $code ${ra:--} $took"
      [ "$code" != 200 ] || serial_of "$T/probe/$id.out" >>"$T/probe.received"
      sleep 0.1
    done
  ) >"$T/probe.log" &
  PROBE_PID=$!
}
# probe_wait_ok SINCE: waits (up to 10 s) until a probe attempt started after epoch SINCE has been
# answered 200 (the probe has seen the recovery), or the probe has used up its devices.
probe_wait_ok() {
  for _ in $(seq 1 100); do
    awk -v t="$1" '$1 >= t && $2 == 200 {ok = 1} END {exit !ok}' "$T/probe.log" && return 0
    kill -0 "$PROBE_PID" 2>/dev/null || return 0
    sleep 0.1
  done
}
stop_probe() {
  touch "$T/probe.stop"
  wait "$PROBE_PID" 2>/dev/null || true
  PROBE_PID=""
}

# retry_probe_refused FIRST LAST: each probe device that was answered 503 tries once more with the
# same CSR, as a device does after Retry-After. An issuance whose COMMIT reached PostgreSQL while
# the server was stopping, but whose answer was lost, was answered 503 and has its row: the retry
# gets that very certificate, so every row has a receiver. Serials go to $T/probe.received; any
# answer but 200 fails the test.
retry_probe_refused() {
  local k id code
  for k in $(seq "$1" "$2"); do
    id=$(printf 'dev-%05d' "$k")
    [ -f "$T/probe/$id.hdr" ] || continue  # never tried: the probe stopped first
    head -n 1 "$T/probe/$id.hdr" | grep -q ' 200' && continue
    read -r code _ <<<"$(probe_post "$id")"
    if [ "$code" = 200 ]; then serial_of "$T/probe/$id.out" >>"$T/probe.received"
    else fail "probe device $id retried after its 503: answered $code"; fi
  done
}

# probe_outage SINCE: from $T/probe.log's attempts started after epoch SINCE, "OUTAGE_S COUNTS"
# where OUTAGE_S runs from the first attempt not answered 200 to the first 200 after the last one
# ("none" if every attempt got 200) and COUNTS is "status:count,...".
probe_outage() {
  python3 - "$T/probe.log" "$1" <<'PY'
import collections, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rows = [(float(r[0]), r[1], r[2]) for r in rows if float(r[0]) >= float(sys.argv[2])]
counts = ",".join("%s:%d" % kv for kv in sorted(collections.Counter(c for _, c, _ in rows).items()))
bad = [i for i, (_, c, _) in enumerate(rows) if c != "200"]
if not bad:
    print("none", counts)
else:
    after = [t for t, c, _ in rows[bad[-1] + 1:] if c == "200"]
    print("%.1f" % (after[0] - rows[bad[0]][0]) if after else "unrecovered", counts)
PY
}

# finish_replicas: stops the replicas and HAProxy, then lib.sh's finish (prints the replica logs'
# tails when a check failed).
finish_replicas() {
  stop_replicas
  if [ -n "$HAPROXY_PID" ]; then
    kill "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
  fi
  HAPROXY_PID=""
  if [ "$FAILURES" -gt 0 ]; then
    for f in "$T"/replica-*.log; do echo "--- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2; done
  fi
  finish
}
