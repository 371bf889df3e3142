#!/usr/bin/env bash
# ca_rollover_token_probe.sh — the CA key probe follows the CA generations (#19 part 3) with the
# keys in a SoftHSM2 token: after `ca rollover` + `ca activate` serve signs with generation 2's
# key and, while it is still trusted, generation 1's (CRLs, resumed pending intents), so /healthz
# and provisiond_ca_key_up go unhealthy when EITHER key disappears from the token (deleted with
# pkcs11-tool while serve runs), naming the generation. After `ca retire` of generation 1 and a
# reload its key is no longer probed (healthz ok again); then generation 2's key deleted turns
# healthz unhealthy. check-config follows the same generations: it signs with both token keys
# (one module, one C_Initialize) while generation 1 is previous, and names the generation whose
# key is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/token_lib.sh"

init_state --ca-key-uri "$TOKEN_URI"
ADMIN=(--state-dir "$T/state")
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
start_daemon_metrics --trust "$T/fleet/factory-ca.crt"
reloads() { grep -c '<5>reloaded' "$T/daemon.log" || true; }
reload() {  # SIGHUP and wait until the daemon says it reloaded
  local before; before=$(reloads)
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 1 50); do [ "$(reloads)" -gt "$before" ] && return 0; sleep 0.1; done
  fail "no reload after SIGHUP"
}
CHECK=("$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt"
       --listen 127.0.0.1:0)
problems() { "${CHECK[@]}" 2>&1 >/dev/null || true; }
healthz() { curl -s "http://127.0.0.1:$METRICS_PORT/healthz"; }
healthz_becomes() {  # healthz_becomes PREFIX: within 5 s, /healthz starts with PREFIX
  local body=""
  for _ in $(seq 1 50); do
    body=$(healthz)
    [ "${body#"$1"}" != "$body" ] && { echo "$body"; return 0; }
    sleep 0.1
  done
  echo "$body"
}
gen_up() {  # gen_up N: provisiond_ca_key_generation_up{gen="N"}
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v g="provisiond_ca_key_generation_up{gen=\"$1\"}" '$1 == g {print $2}'
}

check "ca rollover (key in the token)" "$PROVISIOND" ca rollover "${ADMIN[@]}"
check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
reload
expect_eq "both generations' keys sign: healthz ok" ok "$(healthz_becomes ok)"
expect_eq "generation 1 up" 1 "$(gen_up 1)"
expect_eq "generation 2 up" 1 "$(gen_up 2)"
check "check-config: both generations' token keys sign" "${CHECK[@]}"

# Generation 1 is previous: still signing (its CRL, pending intents), so still probed.
check "delete generation 1's key (ca) from the token" \
  pkcs11 --delete-object --type privkey --label ca
body=$(healthz_becomes "CA key unavailable")
expect_contains "healthz names generation 1" "CA key unavailable: generation 1:" "$body"
expect_eq "provisiond_ca_key_up 0" 0 "$(metric provisiond_ca_key_up)"
expect_eq "generation 1 down" 0 "$(gen_up 1)"
expect_eq "generation 2 still up" 1 "$(gen_up 2)"
expect_contains "check-config names generation 1's missing key" "check-config: CA key: " "$(problems)"

check "ca retire (generation 1)" "$PROVISIOND" ca retire "${ADMIN[@]}"
reload
expect_eq "after retire + reload generation 1 is not probed: healthz ok" ok "$(healthz_becomes ok)"
expect_eq "provisiond_ca_key_up 1" 1 "$(metric provisiond_ca_key_up)"
expect_eq "no generation 1 series any more" "" "$(gen_up 1)"
check "check-config: generation 1 retired, not checked" "${CHECK[@]}"

check "delete generation 2's key (ca-gen2) from the token" \
  pkcs11 --delete-object --type privkey --label ca-gen2
body=$(healthz_becomes "CA key unavailable")
expect_contains "healthz names generation 2" "CA key unavailable: generation 2:" "$body"
expect_eq "provisiond_ca_key_up 0 again" 0 "$(metric provisiond_ca_key_up)"
expect_eq "generation 2 down" 0 "$(gen_up 2)"
expect_contains "check-config names generation 2's missing key" \
  "check-config: CA generation 2 key: CA generation 2: " "$(problems)"
check "one ca_key_unavailable line per generation" \
  test "$(grep -c '^<3>ca_key_unavailable reason=.* gen=[12]$' "$T/daemon.log")" -eq 2
finish
