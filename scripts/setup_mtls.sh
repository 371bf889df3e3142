#!/usr/bin/env bash
# setup_mtls.sh — the mTLS lab (RFC 8446 §4.3.2 CertificateRequest, §4.4.2 Certificate) as a
# script, and the check behind docs/mtls-failures.md. It
#   1. makes a P-256 CA, a server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1) and
#      client certificates with openssl req / x509 / ca;
#   2. completes an mTLS handshake between `openssl s_server -Verify 1` and `openssl s_client`;
#   3. provokes the two classic client-auth failures (a certificate from another CA, an empty
#      Certificate message) against s_server in TLS 1.3 and 1.2, without and with
#      -verify_return_error;
#   4. provokes those and the other client-certificate failures against provisiond (needs the
#      binary, sqlite3 and curl; skipped with a message when no binary is found and PROVISIOND
#      is not set);
# then prints what it saw and compares it, cell for cell, with the tables marked
# <!-- setup_mtls:NAME --> in docs/mtls-failures.md. Exit 0: every row matches. Exit 1: a
# difference (printed as a diff) or an error.
#
# Environment: PROVISIOND (default: build/daemon/provisiond under the repository root),
# MTLS_DOC (default: docs/mtls-failures.md), KEEP_TMP=1 keeps the work directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }  # the script cd's to its temp dir
DOC=$(abs "${MTLS_DOC:-$ROOT/docs/mtls-failures.md}")
PROVISIOND_SET=${PROVISIOND:+yes}
PROVISIOND=$(abs "${PROVISIOND:-$ROOT/build/daemon/provisiond}")

T=$(mktemp -d "${TMPDIR:-/tmp}/setup_mtls.XXXXXX")
SERVER_PID=""  # the running `timeout ... openssl s_server`, if any
DAEMON_PID=""  # the running `timeout ... provisiond serve`, if any
HOLD=""        # fd that keeps $T/stdin open, so s_server never reads EOF on its stdin
MISMATCH=0

# stop_process PID: SIGTERM (timeout(1) passes it on and sends SIGKILL 3 s later), then SIGKILL.
stop_process() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  { wait "$1"; } 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_process "$SERVER_PID"
  stop_process "$DAEMON_PID"
  [ -z "$HOLD" ] || exec {HOLD}>&-
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "work files kept in $T" >&2
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "setup_mtls: $*" >&2; exit 1; }

# quiet CMD...: runs CMD with its chatter in $T/commands.log; shows the log if CMD fails.
quiet() {
  "$@" >>"$T/commands.log" 2>&1 || { cat "$T/commands.log" >&2; die "failed: $*"; }
}

command -v openssl >/dev/null || die "openssl is not installed"
[ -f "$DOC" ] || die "no $DOC"
[ -z "$PROVISIOND_SET" ] || [ -x "$PROVISIOND" ] || die "PROVISIOND=$PROVISIOND is not an executable"
cd "$T"

# ---------------------------------------------------------------------------------------------
echo "== 1. PKI (openssl $(openssl version | cut -d' ' -f2)) in $T"

# make_ca NAME CN: a self-signed P-256 CA, NAME.crt / NAME.key.
make_ca() {
  quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# new_csr NAME CN: a fresh P-256 key NAME.key and a CSR NAME.csr for CN.
new_csr() {
  quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr"
}

# sign NAME CA EXTFILE: NAME.csr signed by CA for 30 days with the extensions in EXTFILE.
sign() {
  quiet openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 \
    -extfile "$3" -out "$1.crt"
}

# sign_dated NAME CA EXTFILE START END: like sign, with explicit validity (YYYYMMDDHHMMSSZ).
# `openssl x509` in OpenSSL 3.0 cannot set notBefore, `openssl ca` can; it wants a config.
sign_dated() {
  quiet openssl ca -batch -config ca.cnf -cert "$2.crt" -keyfile "$2.key" -in "$1.csr" \
    -out "$1.crt" -notext -extfile "$3" -startdate "$4" -enddate "$5"
}

cat > server.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
cat > client.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
sed 's/clientAuth/serverAuth/' client.ext > server-eku.ext
sed -e 's/CA:FALSE/CA:TRUE/' -e 's/digitalSignature/digitalSignature, keyCertSign/' client.ext \
  > ca-leaf.ext
mkdir -p ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial
cat > ca.cnf <<'EOF'
[ca]
default_ca = lab
[lab]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF

make_ca ca "mTLS Lab CA"
make_ca other-ca "Other CA"
new_csr server localhost && sign server ca server.ext
new_csr client test-client && sign client ca client.ext
new_csr rogue rogue-client && sign rogue other-ca client.ext
# For provisiond only: the other ways a bootstrap certificate can be wrong.
ts() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
new_csr expired expired-client && sign_dated expired ca client.ext "$(ts '-2 years')" "$(ts '-1 day')"
new_csr notyet notyet-client && sign_dated notyet ca client.ext "$(ts '+1 year')" "$(ts '+2 years')"
new_csr server-eku server-eku-client && sign server-eku ca server-eku.ext
new_csr ca-leaf ca-leaf-client && sign ca-leaf ca ca-leaf.ext
quiet openssl verify -CAfile ca.crt server.crt client.crt
echo "CA, server (CN=localhost, SAN DNS:localhost, IP:127.0.0.1), client CN=test-client;" \
  "CN=rogue-client from another CA"

# ---------------------------------------------------------------------------------------------
# Reading -msg transcripts, and the observed table rows: scripts/mtls_transcripts.sh.
# shellcheck source=scripts/mtls_transcripts.sh
source "$ROOT/scripts/mtls_transcripts.sh"

# ---------------------------------------------------------------------------------------------
# openssl s_server, one server per connection (-naccept 1) on a port the kernel picks
# (-accept 127.0.0.1:0; s_server prints "ACCEPT 127.0.0.1:PORT"). Its stdin is a FIFO that we
# hold open: at EOF on stdin s_server would shut the connection down.
mkfifo stdin
exec {HOLD}<>stdin

# start_s_server NAME OPTION...: starts s_server with OPTIONs, sets PORT.
start_s_server() {
  local name=$1
  shift
  : >"$name.server"  # exists before the polling below reads it
  timeout -k 3 30 openssl s_server -accept 127.0.0.1:0 -naccept 1 -cert server.crt \
    -key server.key -CAfile ca.crt "$@" <&"$HOLD" >"$name.server" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$name.server")
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$name.server" >&2
  die "s_server did not start"
}

# end_s_server: s_server exits by itself after its one connection; give it 3 s.
end_s_server() {
  for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  stop_process "$SERVER_PID"
  SERVER_PID=""
}

# connect NAME PORT CAFILE OPTION...: s_client to 127.0.0.1:PORT; transcript in NAME.client,
# stderr in NAME.client.err, exit status in RC. `< <(sleep 1)` keeps stdin open for a second: in
# TLS 1.3 the server's verdict on the client certificate comes after the client's Finished, and
# s_client at EOF on stdin would send close_notify and leave before reading it. A process
# substitution, not `sleep 1 |`: a connection the server ends with an alert returns at once
# instead of waiting out the second.
connect() {
  local name=$1 port=$2 cafile=$3
  shift 3
  RC=0
  timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$cafile" \
    -verify_hostname localhost -verify_return_error "$@" < <(sleep 1) >"$name.client" \
    2>"$name.client.err" || RC=$?
}

echo "== 2. a working mTLS connection: s_server -Verify 1, s_client -cert client.crt"
echo "== 3. failures against s_server: another CA; no client certificate"
for v in tls1_3 tls1_2; do
  for kind in good rogue none; do
    for mode in plain strict; do
      [ "$kind" = good ] && [ "$mode" = strict ] && continue
      name="s_server-$kind-$v-$mode"
      sopts=(-Verify 1)
      [ "$mode" = strict ] && sopts+=(-verify_return_error)
      case $kind in
        good) what="client certificate from the CA"; copts=(-cert client.crt -key client.key) ;;
        rogue) what="certificate from a different CA"; copts=(-cert rogue.crt -key rogue.key) ;;
        none) what="no client certificate"; copts=() ;;
      esac
      start_s_server "$name" "${sopts[@]}" -msg
      connect "$name" "$PORT" ca.crt "-$v" -msg "${copts[@]}"
      end_s_server
      sent=$(alert_in "$name.server" '>>>')
      got=$(alert_in "$name.client" '<<<')
      alert=$got
      [ "$sent" = "$got" ] || alert="s_server sent $sent, s_client got $got"
      row s_server "$what" "$(tls_of $v)" "${sopts[*]}" "$(client_sends "$name.client")" "$alert" \
        "$(shows_first "$name.client")" "$(exit_cell "$RC" "$name.client.err")" \
        "$(s_server_prints "$name.server")"
      if [ "$kind" = good ] && [ "$RC" -ne 0 ]; then
        cat "$name.client" "$name.client.err" "$name.server" >&2
        die "the mTLS connection with a good client certificate failed ($v)"
      fi
    done
  done
  # What the CertificateRequest carries, decoded by -trace.
  name="s_server-trace-$v"
  start_s_server "$name" -Verify 1
  connect "$name" "$PORT" ca.crt "-$v" -trace -cert client.crt -key client.key
  end_s_server
  row certificate_request "openssl s_server -Verify 1 -CAfile ca.crt" "$(tls_of $v)" \
    "$(certificate_request "$name.client")"
done

# ---------------------------------------------------------------------------------------------
RAN_PROVISIOND=0
if [ ! -x "$PROVISIOND" ] && [ -z "$PROVISIOND_SET" ]; then
  echo "== 4. SKIPPED: no provisiond at $PROVISIOND (build it, or set PROVISIOND=/path/to/it)"
else
  command -v sqlite3 >/dev/null || die "part 4 needs sqlite3"
  command -v curl >/dev/null || die "part 4 needs curl"
  RAN_PROVISIOND=1
  echo "== 4. the same and more against provisiond ($PROVISIOND)"
  quiet "$PROVISIOND" init --state-dir state
  DB=state/provisiond.db
  : > provisiond.log
  timeout -k 3 120 "$PROVISIOND" serve --state-dir state --listen 127.0.0.1:0 --trust ca.crt \
    --workers 1 2>>provisiond.log &
  DAEMON_PID=$!
  DPORT=""
  for _ in $(seq 100); do
    DPORT=$(sed -n 's/^<5>listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' provisiond.log)
    [ -n "$DPORT" ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$DPORT" ] || { cat provisiond.log >&2; die "provisiond did not start listening"; }

  sql() { sqlite3 -batch -noheader "$DB" "$@"; }
  last_event() { sql 'SELECT coalesce(max(id), 0) FROM enrollment_events'; }
  # new_log LINES: log lines after the first LINES, without the peer address; "none" if none.
  # The background store check's line (serve checks the store's file 1 s after it is ready) is
  # not about any connection and is left out.
  # provisiond writes its line right after the alert, which s_client may have read just now:
  # wait for it (up to a second).
  new_log() {
    for _ in $(seq 10); do
      tail -n +"$(($1 + 1))" provisiond.log | grep -qv '^<[0-9]>store_check_' && break
      sleep 0.1
    done
    tail -n +"$(($1 + 1))" provisiond.log | { grep -v '^<[0-9]>store_check_' || true; } |
      sed 's/ peer=[^ ]*//' | join_lines
  }
  # new_events ID: the enrollment_events rows after ID; "none" if none.
  new_events() {
    # Events are committed by provisiond's writer thread just after the alert: wait up to 2 s.
    for _ in $(seq 20); do [ "$(last_event)" -gt "$1" ] && break; sleep 0.1; done
    sql "SELECT endpoint || ', ' || outcome || ', ' || http_status || ', ' || reason
         FROM enrollment_events WHERE id > $1 ORDER BY id" | join_lines
  }

  # provisiond_case WHAT TLSFLAG S_CLIENT_OPTION...
  n=0
  provisiond_case() {
    local what=$1 v=$2 lines event
    shift 2
    n=$((n + 1))
    lines=$(wc -l < provisiond.log)
    event=$(last_event)
    connect "provisiond-$n" "$DPORT" state/ca.crt "-$v" -msg "$@"
    row provisiond_tls "$what" "$(tls_of "$v")" "$(client_sends "provisiond-$n.client")" \
      "$(alert_in "provisiond-$n.client" '<<<')" "$(shows_first "provisiond-$n.client")" \
      "$(exit_cell "$RC" "provisiond-$n.client.err")" "$(new_log "$lines")" \
      "$(new_events "$event")"
  }
  for v in tls1_3 tls1_2; do
    provisiond_case "client certificate from the CA" "$v" -cert client.crt -key client.key
    provisiond_case "certificate from a different CA" "$v" -cert rogue.crt -key rogue.key
    provisiond_case "no client certificate" "$v"
    provisiond_case "expired" "$v" -cert expired.crt -key expired.key
    provisiond_case "not yet valid" "$v" -cert notyet.crt -key notyet.key
    provisiond_case "EKU serverAuth only, no clientAuth" "$v" -cert server-eku.crt \
      -key server-eku.key
    provisiond_case "CA:TRUE leaf" "$v" -cert ca-leaf.crt -key ca-leaf.key
  done
  for v in tls1_1 tls1; do
    provisiond_case "client offers only TLS $(tls_of $v)" "$v" -cipher 'DEFAULT:@SECLEVEL=0' \
      -cert client.crt -key client.key
  done
  for v in tls1_3 tls1_2; do
    connect "provisiond-trace-$v" "$DPORT" state/ca.crt "-$v" -trace -cert client.crt \
      -key client.key
    row certificate_request "provisiond" "$(tls_of $v)" \
      "$(certificate_request "provisiond-trace-$v.client")"
  done

  # EST: enroll test-client with its bootstrap certificate, then use each certificate where
  # the other belongs.
  EST="https://localhost:$DPORT/.well-known/est"
  quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-client \
    -keyout op.key -outform DER -out op.csr
  base64 op.csr > op.csr.b64
  # post CERT ENDPOINT: POSTs the CSR with CERT; body in post.body, prints the HTTP status.
  post() {
    curl -sS -m 10 --tlsv1.3 --cacert state/ca.crt --cert "$1.crt" --key "$1.key" \
      -H 'Content-Type: application/pkcs10' --data-binary @op.csr.b64 -o post.body \
      -w '%{http_code}' "$EST/$2"
  }
  status=$(post client simpleenroll)
  [ "$status" = 200 ] || { cat post.body provisiond.log >&2; die "enrollment failed: $status"; }
  base64 -di post.body > op.p7
  quiet openssl pkcs7 -inform DER -in op.p7 -print_certs -out op.crt
  http_case() {  # http_case WHAT CERT ENDPOINT
    local lines event status
    lines=$(wc -l < provisiond.log)
    event=$(last_event)
    status=$(post "$2" "$3")
    row provisiond_http "$1" "$status $(head -c 200 post.body | tr -d '\r\n')" \
      "$(new_log "$lines")" "$(new_events "$event")"
  }
  http_case "operational certificate to simpleenroll" op simpleenroll
  http_case "bootstrap certificate to simplereenroll" client simplereenroll
fi

# ---------------------------------------------------------------------------------------------
# normalize: table rows as "cell | cell | ...", without backticks and the outer pipes.
normalize() {
  sed -e 's/`//g' -e 's/^ *| *//' -e 's/ *| *$//' -e 's/ *| */ | /g'
}

# doc_rows NAME: the body rows of the first table after <!-- setup_mtls:NAME --> in the doc.
doc_rows() {
  awk -v mark="<!-- setup_mtls:$1 -->" '
    index($0, mark) == 1 { on = 1; n = 0; next }
    on && /^[|]/ { if (++n > 2) print; next }
    on && n > 0 { exit }' "$DOC" | normalize
}

echo
echo "== observed (compact: case | TLS | ... ; full rows in $DOC)"
awk -F' [|] ' '{ printf "  s_server %-32s %s  %-30s  %-28s  exit %s\n", $1, $2, $3, $5, $7 }' \
  observed.s_server
if [ "$RAN_PROVISIOND" = 1 ]; then
  awk -F' [|] ' '{ printf "  provisiond %-36s %s  %-30s  %-36s  exit %s\n", $1, $2, $4, $5, $6 }' \
    observed.provisiond_tls
  awk -F' [|] ' '{ printf "  provisiond %-41s HTTP %s\n", $1, $2 }' observed.provisiond_http
fi
awk -F' [|] ' '{ printf "  CertificateRequest %-10s TLS %s: %s\n", ($1 ~ /^provisiond/ ? "provisiond" : "s_server"), $2, $3 }' \
  observed.certificate_request

tables=(s_server certificate_request)
[ "$RAN_PROVISIOND" = 1 ] && tables+=(provisiond_tls provisiond_http)
echo
for t in "${tables[@]}"; do
  doc_rows "$t" > "expected.$t"
  # Without part 4, the doc's provisiond rows of the shared table were not observed.
  [ "$RAN_PROVISIOND" = 1 ] || sed -i '/^provisiond /d' "expected.$t"
  normalize < "observed.$t" > "observed.$t.n"
  if [ ! -s "expected.$t" ]; then
    echo "MISMATCH $t: no table marked <!-- setup_mtls:$t --> in $DOC"
    MISMATCH=1
  elif diff <(LC_ALL=C sort "expected.$t") <(LC_ALL=C sort "observed.$t.n") > "diff.$t"; then
    echo "ok: $t: $(wc -l < "observed.$t.n") rows as $DOC states"
  else
    echo "MISMATCH $t ('<' the doc, '>' observed):"
    sed 's/^/  /' "diff.$t"
    MISMATCH=1
  fi
done
if [ "$MISMATCH" != 0 ]; then
  echo "FAIL: observed behaviour differs from $DOC" >&2
  exit 1
fi
echo "all observations match $DOC"
