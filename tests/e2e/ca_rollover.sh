#!/usr/bin/env bash
# CA rollover end to end (#19 part 3, RFC 7030 §4.1.3) on SQLite: devices enroll; `ca rollover`
# and a SIGHUP put the new root and both links in /cacerts (the very files of ca-gen2/); a
# device-sim device follows (learns the new root through NewWithOld under the root it trusts);
# `ca activate` switches issuance and an old-generation certificate renews into a new-generation
# one; `ca status` counts it all (JSON and table); after `ca retire` the old generation's
# certificates are refused at the handshake. Refusals (nothing pending, nothing to retire, a
# second rollover) are one line and a non-zero exit.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 3 >/dev/null
start_daemon --trust "$T/fleet/factory-ca.crt"
cp "$CA" "$T/bundle.pem"
SIM=("$DEVICE_SIM" --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$T/bundle.pem")
ADMIN=(--state-dir "$T/state")

reloads() { grep -c '<5>reloaded' "$T/daemon.log" || true; }
reload() {  # SIGHUP and wait until the daemon says it reloaded
  local before; before=$(reloads)
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && return 0; sleep 0.1; done
  fail "no reload after SIGHUP"
}
refused() {  # refused DESCRIPTION NEEDLE COMMAND...: non-zero exit, one stderr line with NEEDLE
  local what=$1 needle=$2; shift 2
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ]; then
    expect_contains "$what" "$needle" "$err"
  else
    fail "$what: exit $rc, stderr: $err"
  fi
}
cacerts_pem() {  # the /cacerts reply's certificates, PEM
  local dev="$T/fleet/devices/dev-00003"  # client authentication is required: its bootstrap cert
  curl -sS --fail --cacert "$CA" --cert "$dev/bootstrap.crt" --key "$dev/bootstrap.key" \
    "https://localhost:$PORT/.well-known/est/cacerts" | base64 -di |
    openssl pkcs7 -inform DER -print_certs
}
cacerts_count() { cacerts_pem | grep -c '^-----BEGIN CERTIFICATE'; }
pem_fps() {  # pem_fps < PEM: the SHA-256 fingerprint of each certificate in it, sorted, one a line
  local d; d=$(mktemp -d "$T/fps.XXXXXX")
  awk -v d="$d" '/^-----BEGIN CERTIFICATE/ {n++} n {print > (d "/" n ".pem")}'
  for f in "$d"/*.pem; do openssl x509 -in "$f" -noout -fingerprint -sha256; done | sort
}

out=$("${SIM[0]}" enroll "${SIM[@]:1}")
expect_contains "3 devices enroll" "enroll: ok=3 failed=0" "$out"
refused "activate with nothing pending" "nothing to activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
refused "retire with no previous generation" "nothing to retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
expect_eq "cacerts before: the CA alone" 1 "$(cacerts_count)"

check "ca rollover" "$PROVISIOND" ca rollover "${ADMIN[@]}"
refused "a second rollover while one is pending" "already pending" \
  "$PROVISIOND" ca rollover "${ADMIN[@]}"
expect_eq "new key is 0600" 600 "$(stat -c %a "$T/state/ca-gen2/ca.key")"
reload
expect_eq "cacerts after rollover: CA, new CA, NewWithOld, OldWithNew" 4 "$(cacerts_count)"
G2="$T/state/ca-gen2"
served=$(cacerts_pem | pem_fps)
expect_contains "... the NewWithOld link of ca-gen2/" "$(pem_fps <"$G2/newwithold.crt")" "$served"
expect_contains "... the OldWithNew link of ca-gen2/" "$(pem_fps <"$G2/oldwithnew.crt")" "$served"
expect_eq "... exactly the old root, the new root and the two links" \
  "$(cat "$CA" "$G2/ca.crt" "$G2/newwithold.crt" "$G2/oldwithnew.crt" | pem_fps)" "$served"

# dev-00001 follows: renews (still generation 1: nothing is active yet) and learns the new root.
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00001 --follow-rollover "$T/bundle.pem")
expect_contains "dev-00001 renews while generation 2 is pending" "reenroll: ok=1 failed=0" "$out"
expect_eq "the followed bundle holds both roots" 2 "$(grep -c 'BEGIN CERTIFICATE' "$T/bundle.pem")"
check "the learned root is generation 2's (a self-signed root verifies only if it is in the bundle)" \
  openssl verify -CAfile "$T/bundle.pem" "$T/state/ca-gen2/ca.crt"
expect_eq "the fetch is recorded once" "dev-00001|2" \
  "$(sql "SELECT device_id, ca_gen FROM cacerts_fetches")"

check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
refused "a second activate" "nothing to activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
reload
# dev-00002 holds a generation-1 certificate: it renews into generation 2.
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002)
expect_contains "an old-generation certificate renews after activate" "reenroll: ok=1 failed=0" "$out"
check "dev-00002's new certificate is issued by generation 2" \
  openssl verify -CAfile "$T/state/ca-gen2/ca.crt" "$T/fleet/devices/dev-00002/operational.crt"
expect_eq "and recorded as generation 2" 2 \
  "$(sql "SELECT ca_gen FROM certificates WHERE device_id='dev-00002' ORDER BY id DESC LIMIT 1")"
status=$("$PROVISIOND" ca status "${ADMIN[@]}" --json)
expect_eq "status: 3 active devices" 3 "$(jq .active_devices <<<"$status")"
expect_eq "status: gen 2 active, held by 1" "active 1" \
  "$(jq -r '.generations[1] | "\(.state) \(.devices_holding)"' <<<"$status")"
expect_eq "status: 2 devices fetched the new cacerts" 2 \
  "$(jq '.generations[1].devices_fetched_cacerts' <<<"$status")"
expect_eq "status: gen 1 previous, held by 3" "previous 3" \
  "$(jq -r '.generations[0] | "\(.state) \(.devices_holding)"' <<<"$status")"
table=$("$PROVISIOND" ca status "${ADMIN[@]}")
expect_contains "status table: the active devices" "active devices: 3" "$table"
expect_eq "status table: GEN STATE HOLDING FETCHED per generation, gen 2's certificate hash" \
  "1 previous 3 0|2 active 1 2 $(openssl x509 -in "$G2/ca.crt" -outform DER | sha256sum | cut -d' ' -f1)" \
  "$(awk '$1 ~ /^[0-9]+$/ {printf "%s%s %s %s %s", sep, $1, $2, $3, $4; sep = "|"}
          $1 == 2 {printf " %s", $NF}' <<<"$table")"

check "ca retire" "$PROVISIOND" ca retire "${ADMIN[@]}"
reload
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00003 2>&1 || true)
expect_contains "a retired generation's certificate is refused at the handshake" \
  "reenroll: ok=0 failed=1" "$out"
expect_contains "with unknown_ca" "unknown_ca" "$out"
expect_sql_eventually "the refusal is recorded with its reason" 1 \
  "SELECT count(*) FROM enrollment_events WHERE outcome='handshake_failed' AND presented_subject LIKE '%dev-00003%' AND reason LIKE '%not trusted%'"
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002)
expect_contains "generation 2's certificate still renews" "reenroll: ok=1 failed=0" "$out"
# A restart reads the same generations from the store: generation 2 issues, 1 stays refused.
stop_daemon
start_daemon --trust "$T/fleet/factory-ca.crt"
SIM[4]="127.0.0.1:$PORT"
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00002)
expect_contains "after a restart generation 2 still renews" "reenroll: ok=1 failed=0" "$out"
out=$("${SIM[0]}" reenroll "${SIM[@]:1}" --devices dev-00003 2>&1 || true)
expect_contains "after a restart the retired generation is still refused" "unknown_ca" "$out"
check "audit verify after the rollover" "$PROVISIOND" audit verify "${ADMIN[@]}"
expect_eq "state events in the chain" "ca_activated ca_activated ca_retired ca_rollover ca_rollover" \
  "$(sql "SELECT outcome FROM enrollment_events WHERE outcome LIKE 'ca_%' ORDER BY outcome" | paste -sd' ')"

finish
