#!/usr/bin/env bash
# ca_rollover_evidence.sh — audit checkpoints and tidy archives across a CA rollover (#19 part 3)
# on SQLite, offline: a checkpoint and a tidy archive made under generation 1, then `ca rollover`,
# `ca activate` and `ca retire` of generation 1, then another checkpoint and archive, now signed by
# generation 2's key. All four verify (a since-retired generation's signature stays valid
# evidence: it was made while that key was trusted), each says which generation signed, and
# `audit verify` accepts the chain whose base checkpoint the retired generation 1 signed. A well-formed
# checkpoint signed by a key of no generation is refused in one line, exit 1. A root dropped into
# the state dir is not trusted: ca-gen3/ca.crt without a link, with a link its own key signed, or
# with generation 2's root as its link is left out (the refusal names it and why), ca-gen02/ is
# not a generation's directory at all, and the real generation 2 still verifies.
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
init_state
S=(--state-dir "$T/state")

events() {  # a few chain rows: a block and a revoke that finds nothing
  "$PROVISIOND" block "${S[@]}" --device-id "dev-$1" --reason "lost $1" >/dev/null 2>&1
  "$PROVISIOND" revoke "${S[@]}" --device-id "nobody-$1" >/dev/null 2>&1 || true
}
tidy() {  # tidy ARCHIVE [--events-before DATE]
  local archive=$1; shift
  "$PROVISIOND" tidy "${S[@]}" --expired-before 2025-01-01 --archive "$archive" "$@" 2>&1
}

events 1; events 2
sleep 1.1  # tidy 1 cuts the chain below this second: its base checkpoint is generation 1's
out=$(tidy "$T/a1.pta" --events-before "$(date -u +%FT%TZ)")
expect_contains "tidy 1 signed by generation 1" "signed by CA generation 1" "$out"
out=$("$PROVISIOND" audit checkpoint "${S[@]}" --out "$T/cp1" 2>&1)
expect_contains "checkpoint 1 signed by generation 1" "signed by CA generation 1" "$out"
expect_eq "checkpoint 1 names the head row of the truncated chain" \
  "$(sql "SELECT max(id) FROM enrollment_events")" "$(sed -n 's/^id //p' "$T/cp1")"

check "ca rollover" "$PROVISIOND" ca rollover "${S[@]}"
check "ca activate" "$PROVISIOND" ca activate "${S[@]}"
check "ca retire (generation 1)" "$PROVISIOND" ca retire "${S[@]}"
events 3
out=$("$PROVISIOND" audit checkpoint "${S[@]}" --out "$T/cp2" 2>&1)
expect_contains "checkpoint 2 signed by generation 2" "signed by CA generation 2" "$out"
# Independently of provisiond: openssl checks checkpoint 2's signature under each root's key.
sig_ok() {  # sig_ok ROOT CHECKPOINT
  openssl x509 -in "$1" -pubkey -noout > "$T/pub.pem"
  sed -n 's/^signature //p' "$2" | base64 -d > "$T/sig.der"
  head -5 "$2" | openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.der" >/dev/null 2>&1
}
check "openssl: checkpoint 2 verifies under generation 2's root" sig_ok "$T/state/ca-gen2/ca.crt" "$T/cp2"
if sig_ok "$T/state/ca.crt" "$T/cp2"; then fail "openssl: checkpoint 2 verifies under generation 1's root"
else pass "openssl: and not under generation 1's"; fi
# Tidy 2 keeps the chain (both checkpoints' rows stay): its archive carries the chain's base
# checkpoint, generation 1's, inside a file generation 2 signs.
out=$(tidy "$T/a2.pta")
expect_contains "tidy 2 signed by generation 2" "signed by CA generation 2" "$out"

for n in 1 2; do
  out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp$n" 2>&1) || true
  expect_contains "checkpoint $n verifies after retire" "audit chain ok from checkpoint" "$out"
  expect_contains "and names its generation" "signed by CA generation $n" "$out"
  out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/a$n.pta" 2>&1) || true
  expect_contains "archive $n verifies after retire" "archive ok" "$out"
  expect_contains "and names its generation" "signed by CA generation $n" "$out"
done
out=$("$PROVISIOND" audit verify "${S[@]}" 2>&1) || true
expect_contains "the chain whose base checkpoint retired generation 1 signed verifies" \
  "audit chain ok" "$out"

# A checkpoint of the right form signed by a key of no generation: refused in one line.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/foreign.key" 2>/dev/null
{ head -5 "$T/cp2"
  printf 'signature %s\n' "$(head -5 "$T/cp2" | openssl dgst -sha256 -sign "$T/foreign.key" |
    base64 -w0)"; } > "$T/foreign.cp"
rc=0
err=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/foreign.cp" 2>&1 >/dev/null) || rc=$?
expect_eq "a foreign key's checkpoint: exit 1" 1 "$rc"
expect_eq "in one line" 1 "$(printf '%s\n' "$err" | wc -l)"
expect_contains "naming every generation tried" \
  "does not verify under the CA certificate of any generation (generations 1, 2)" "$err"

# An attacker's root in ca-gen3/ (same subject as the real roots), and the foreign checkpoint.
refuse() {  # refuse DESCRIPTION NEEDLE: foreign.cp is refused, the line contains NEEDLE
  local rc=0 err
  err=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/foreign.cp" 2>&1 >/dev/null) ||
    rc=$?
  expect_eq "$1: exit 1" 1 "$rc"
  expect_contains "$1: refused, saying why" "$2" "$err"
}
subject=$(openssl x509 -in "$T/state/ca.crt" -noout -subject -nameopt compat | sed 's/^subject=//')
mkdir "$T/state/ca-gen3"
openssl req -x509 -new -key "$T/foreign.key" -subj "$subject" -days 30 \
  -out "$T/state/ca-gen3/ca.crt" 2>/dev/null
refuse "a ca-gen3/ca.crt without a link" \
  "(generations 1, 2); left out: generation 3 (no readable newwithold.crt)"
# The forged link: the attacker's own key signs its root's key and subject.
cp "$T/state/ca-gen3/ca.crt" "$T/state/ca-gen3/newwithold.crt"
refuse "a ca-gen3 link signed by the attacker's key" \
  "left out: generation 3 (newwithold.crt is not signed by generation 2's key)"
# A link generation 2's key did sign (its own root), but for another key than ca-gen3/ca.crt's.
cp "$T/state/ca-gen2/ca.crt" "$T/state/ca-gen3/newwithold.crt"
refuse "a ca-gen3 link of another key" \
  "left out: generation 3 (newwithold.crt does not carry ca.crt's subject and key)"
out=$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/a2.pta" 2>&1) || true
expect_contains "archive 2 still verifies beside a rogue ca-gen3" "signed by CA generation 2" "$out"
# Not a generation's directory: ca-gen02 (read as 2 before), with an unlinked root.
mv "$T/state/ca-gen3" "$T/state/ca-gen02"
refuse "ca-gen02 is ignored" "(generations 1, 2)"
err=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/foreign.cp" 2>&1) || true
if grep -qF "left out" <<<"$err"; then fail "ca-gen02 is not a generation: $err"
else pass "ca-gen02 is not even a generation left out"; fi
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp2" 2>&1) || true
expect_contains "the real generation 2 still verifies" "signed by CA generation 2" "$out"

finish
