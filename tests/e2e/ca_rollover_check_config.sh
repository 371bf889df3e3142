#!/usr/bin/env bash
# ca_rollover_check_config.sh — `provisiond check-config` after a CA rollover (#19 part 3) with
# file keys: it checks every generation's key that is not retired (the pair under that
# generation's ca.crt, mode 0600), and names the generation whose key is wrong; a retired
# generation's key is no longer checked.
. "$(dirname "$0")/lib.sh"

init_state
"$DEVICE_SIM" factory --out "$T/fleet" --count 1 >/dev/null
ADMIN=(--state-dir "$T/state")
CHECK=("$PROVISIOND" check-config --state-dir "$T/state" --trust "$T/fleet/factory-ca.crt"
       --listen 127.0.0.1:0)
problems() { "${CHECK[@]}" 2>&1 >/dev/null || true; }

check "ca rollover" "$PROVISIOND" ca rollover "${ADMIN[@]}"
check "check-config passes with generation 2 pending" "${CHECK[@]}"

# Generation 2's key replaced by another EC key: not its ca.crt's pair.
cp "$T/state/ca-gen2/ca.key" "$T/gen2.key"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
  openssl pkcs8 -topk8 -nocrypt > "$T/other.key"
install -m 0600 "$T/other.key" "$T/state/ca-gen2/ca.key"
out=$(problems)
expect_contains "a gen-2 key that is not its ca.crt's fails, naming generation 2" \
  "ca-gen2/ca.key: does not match $T/state/ca-gen2/ca.crt (the CA generation 2 key" "$out"
rc=0; "${CHECK[@]}" >/dev/null 2>&1 || rc=$?
expect_eq "exit 1" 1 "$rc"
expect_eq "one problem line" 1 "$(printf '%s\n' "$out" | grep -c '^provisiond check-config: ')"
install -m 0644 "$T/gen2.key" "$T/state/ca-gen2/ca.key"
expect_contains "a gen-2 key others can read fails" \
  "$T/state/ca-gen2/ca.key: mode 0644, want 0600" "$(problems)"
chmod 0600 "$T/state/ca-gen2/ca.key"
check "check-config passes again" "${CHECK[@]}"

check "ca activate" "$PROVISIOND" ca activate "${ADMIN[@]}"
check "ca retire (generation 1)" "$PROVISIOND" ca retire "${ADMIN[@]}"
chmod 0644 "$T/state/ca.key"
check "generation 1 retired: its key is not checked" "${CHECK[@]}"
chmod 0600 "$T/state/ca.key"
finish
