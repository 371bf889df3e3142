# lib.sh — shared helpers for the end-to-end tests. Each test sources this, gets a fresh temp dir,
# starts its own provisiond on 127.0.0.1:0 and real clients (curl, openssl, sqlite3, device-sim).
# Test PKI is generated at run time; nothing here expires in the repository.
set -euo pipefail

: "${PROVISIOND:?PROVISIOND must point at the provisiond binary}"
: "${DEVICE_SIM:?DEVICE_SIM must point at the device-sim binary}"
# Never read an installed /etc/provisiond/provisiond.toml: each test passes what it means.
export PROVISIOND_CONFIG=""

T=$(mktemp -d "${TMPDIR:-/tmp}/provisiond-e2e.XXXXXX")
DAEMON_PID=""
FAILURES=0

cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "$FAILURES" -gt 0 ]; then
    echo "test files kept in $T" >&2
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }

# check DESCRIPTION COMMAND...: runs the command, records a failure if it fails.
check() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

expect_eq() {  # expect_eq DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

expect_contains() {  # expect_contains DESCRIPTION NEEDLE HAYSTACK
  if grep -qF -- "$2" <<<"$3"; then pass "$1"; else fail "$1: '$2' not in: $3"; fi
}

finish() {
  stop_daemon
  if [ "$FAILURES" -gt 0 ]; then
    echo "$FAILURES check(s) failed; daemon log:" >&2
    sed 's/^/  /' "$T/daemon.log" >&2 2>/dev/null || true
    exit 1
  fi
  echo "all checks passed"
}

# init_state [init args...]: a fresh state dir in $T/state.
init_state() {
  "$PROVISIOND" init --state-dir "$T/state" "$@" >/dev/null
  DB="$T/state/provisiond.db"
  CA="$T/state/ca.crt"
}

# start_daemon [serve args...]: starts provisiond and waits for "listening on ADDR:PORT".
start_daemon() {
  # A restarted daemon's earlier log is kept as daemon.log.N for the test to read.
  if [ -s "$T/daemon.log" ]; then
    local n=1
    while [ -e "$T/daemon.log.$n" ]; do n=$((n + 1)); done
    mv "$T/daemon.log" "$T/daemon.log.$n"
  fi
  : > "$T/daemon.log"
  # DAEMON_WRAPPER runs the daemon under a tool, e.g. "valgrind --error-exitcode=99".
  # shellcheck disable=SC2086
  ${DAEMON_WRAPPER:-} "$PROVISIOND" serve --state-dir "$T/state" --listen 127.0.0.1:0 --workers 2 "$@" \
    2>>"$T/daemon.log" &
  DAEMON_PID=$!
  local tries=100
  [ -n "${DAEMON_WRAPPER:-}" ] && tries=600
  for _ in $(seq 1 "$tries"); do
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/daemon.log")
    [ -n "$PORT" ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; echo "daemon died" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "daemon did not start listening" >&2; exit 1; }
  EST="https://localhost:$PORT/.well-known/est"
}

stop_daemon() {
  [ -n "$DAEMON_PID" ] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  local tries=100
  [ -n "${DAEMON_WRAPPER:-}" ] && tries=600
  for _ in $(seq 1 "$tries"); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    fail "daemon did not stop within $((tries / 10)) s of SIGTERM"
    kill -KILL "$DAEMON_PID"
  fi
  local rc=0
  wait "$DAEMON_PID" 2>/dev/null || rc=$?
  DAEMON_PID=""
  # A clean stop exits 0; sanitizers and valgrind report through the exit code and the log.
  [ "$rc" -eq 0 ] || fail "daemon exited with status $rc after SIGTERM"
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR SUMMARY: [1-9]' \
       "$T/daemon.log"; then
    fail "sanitizer or valgrind report in the daemon log"
  fi
}

sql() { sqlite3 -batch -noheader "$DB" "$@"; }

# Handshake-failure events are written by the writer thread after the alert went out, so a test
# that reads them right after the client saw the alert waits (up to 5 s) for the row.
expect_sql_eventually() {  # expect_sql_eventually DESCRIPTION EXPECTED QUERY
  local got=""
  for _ in $(seq 1 50); do
    got=$(sql "$3")
    [ "$got" = "$2" ] && break
    sleep 0.1
  done
  expect_eq "$1" "$2" "$got"
}

# An openssl-made PKI, independent of our code: make_openssl_ca NAME -> $T/NAME.crt/.key
make_openssl_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$1" -keyout "$T/$1.key" -out "$T/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

# make_openssl_device CA_NAME DEVICE_ID [extra openssl x509 args] -> $T/DEVICE_ID.crt/.key
make_openssl_device() {
  local ca=$1 id=$2; shift 2
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' \
    > "$T/leaf.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$id" \
    -keyout "$T/$id.key" -out "$T/$id.req" 2>/dev/null
  openssl x509 -req -in "$T/$id.req" -CA "$T/$ca.crt" -CAkey "$T/$ca.key" -CAcreateserial \
    -days 30 -extfile "$T/leaf.ext" -out "$T/$id.crt" "$@" 2>/dev/null
}

# make_csr SUBJECT_CN OUT_BASE [keyspec]: DER CSR base64-encoded (with line breaks) to OUT_BASE.b64
make_csr() {
  local cn=$1 out=$2 key=${3:-ec -pkeyopt ec_paramgen_curve:P-256}
  # shellcheck disable=SC2086
  openssl req -new -newkey $key -nodes -subj "/CN=$cn" -keyout "$out.key" -outform DER \
    -out "$out.der" 2>/dev/null
  base64 "$out.der" > "$out.b64"
}

# enroll_curl CLIENT_BASE CSR_B64 [endpoint] -> prints HTTP status; body in $T/resp.body
enroll_curl() {
  curl -sS --cacert "$CA" --cert "$1.crt" --key "$1.key" -o "$T/resp.body" -w '%{http_code}' \
    -H 'Content-Type: application/pkcs10' --data-binary @"$2" "$EST/${3:-simpleenroll}"
}

# s_client_alert ARGS...: the first alert openssl s_client receives, e.g. "fatal unknown_ca".
# s_client's stdin stays open a second (in TLS 1.3 the verdict on the client certificate comes
# after the client's Finished; at EOF s_client would leave first), but a connection ended by an
# alert returns at once: then it waits (within that second) for the daemon's line about it, so
# a test may read the log right after.
s_client_alert() {
  local lines alert
  lines=$(daemon_log_lines)
  alert=$(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -msg "$@" \
    < <(sleep 1) 2>&1 | sed -n 's/^<<< TLS [0-9.]*, Alert \[length 0002\], //p' | head -1)
  if [ -n "$alert" ]; then
    for _ in $(seq 10); do [ "$(daemon_log_lines)" -gt "$lines" ] && break; sleep 0.1; done
  fi
  echo "$alert"
}
# daemon_log_lines: lines in $T/daemon.log but the background store check's.
daemon_log_lines() {
  local n
  n=$(grep -vc '^<[0-9]>store_check_' "$T/daemon.log" 2>/dev/null || true)
  echo "${n:-0}"
}
