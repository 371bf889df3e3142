#!/usr/bin/env bash
# audit_checkpoint.sh — `audit checkpoint` and `audit verify --from-checkpoint` on a SQLite store:
# the checkpoint is signed with the CA key and checked against ca.crt; a chain rewritten below it
# (every hash recomputed, so the full walk passes) or cut at it fails; rows removed below it
# (retention) still verify from it.
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
init_state
S=(--state-dir "$T/state")

# Chain rows: admin events (a revoke that finds nothing) and state events (blocks).
for i in 1 2 3; do
  "$PROVISIOND" block "${S[@]}" --device-id "dev-$i" --reason "lost $i" >/dev/null 2>&1
  "$PROVISIOND" revoke "${S[@]}" --device-id "nobody-$i" >/dev/null 2>&1 || true
done
rows=$(sql "SELECT count(*) FROM enrollment_events")
check "chain rows to checkpoint" test "$rows" -ge 6

out=$("$PROVISIOND" audit checkpoint "${S[@]}" --out "$T/cp1" 2>&1)
expect_contains "checkpoint written at the head" "wrote audit checkpoint at row $rows ($rows rows" "$out"
expect_contains "its first line" "provisiond-audit-checkpoint v1" "$(head -1 "$T/cp1")"
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp1" 2>&1)
expect_contains "verify from it: one row" "audit chain ok from checkpoint row $rows" "$out"
expect_contains "rows in all" "1 rows checked, $rows rows in all" "$out"

"$PROVISIOND" block "${S[@]}" --device-id dev-9 --reason later >/dev/null 2>&1
"$PROVISIOND" unblock "${S[@]}" --device-id dev-9 --reason found >/dev/null
head=$(sql "SELECT max(id) FROM enrollment_events")
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp1" 2>&1)
expect_contains "later rows walked from it" "$((head - rows + 1)) rows checked, $head rows in all" "$out"
out=$("$PROVISIOND" audit checkpoint "${S[@]}" --from-checkpoint "$T/cp1" --out "$T/cp2" 2>&1)
expect_contains "checkpoint from a checkpoint" "wrote audit checkpoint at row $head ($head rows" "$out"
check "verify from the new one" "$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp2"
# Without --out the checkpoint goes to stdout.
"$PROVISIOND" audit checkpoint "${S[@]}" > "$T/cp3"
check "stdout checkpoint verifies" "$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/cp3"

# -- forged checkpoints: refused before the store is read -------------------------------------------
sed "s/^id $rows\$/id $((rows - 1))/" "$T/cp1" > "$T/edited"
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/edited" 2>&1) && fail "edited id accepted"
expect_contains "edited id: the signature fails" "does not verify under the CA certificate" "$out"
"$PROVISIOND" init --state-dir "$T/other" >/dev/null
"$PROVISIOND" block --state-dir "$T/other" --device-id x --reason y >/dev/null 2>&1
"$PROVISIOND" audit checkpoint --state-dir "$T/other" --out "$T/other.cp" >/dev/null
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/other.cp" 2>&1) && fail "other CA accepted"
expect_contains "another CA's checkpoint: refused" "does not verify under the CA certificate" "$out"
printf 'not a checkpoint\n' > "$T/junk"
out=$("$PROVISIOND" audit verify "${S[@]}" --from-checkpoint "$T/junk" 2>&1) && fail "junk accepted"
expect_contains "junk: one line" "not a provisiond audit checkpoint" "$out"

# -- the chain rewritten below the checkpoint, every hash after it recomputed ----------------------
cp "$DB" "$T/rewritten.db"
python3 - "$T/rewritten.db" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cols = ("id, time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome, "
        "http_status, reason, serial")
db.execute("UPDATE enrollment_events SET time = '2020-01-01T00:00:00Z' WHERE id = 2")
prev = "0" * 64
for row in db.execute(f"SELECT {cols} FROM enrollment_events ORDER BY id").fetchall():
    enc = b""
    for i, v in enumerate(("provisiond.enrollment_events.v2",) + tuple(row[:10])):
        if i == 4:  # presented_fingerprint: 32 bytes or NULL, hashed as hex or '' (schema 13)
            v = "" if v is None else v.hex()
        b = str(v).encode()
        enc += str(len(b)).encode() + b":" + b
    enc += b"-" if row[10] is None else str(len(row[10].encode())).encode() + b":" + row[10].encode()
    enc += str(len(prev)).encode() + b":" + prev.encode()
    h = hashlib.sha256(enc).hexdigest()
    db.execute("UPDATE enrollment_events SET row_hash = ? WHERE id = ?",
               (bytes.fromhex(h), row[0]))  # 32 bytes; prev_hash is not stored (schema 12)
    prev = h
db.commit()
PY
R=(--state-dir "$T/state" --store "sqlite:$T/rewritten.db")
check "rewritten chain: the full walk passes" "$PROVISIOND" audit verify "${R[@]}"
out=$("$PROVISIOND" audit verify "${R[@]}" --from-checkpoint "$T/cp1" 2>&1) && fail "rewrite passed"
expect_contains "rewritten chain: fails from the checkpoint" "BROKEN at row $rows: row $rows does not match the checkpoint" "$out"

# -- cut at the checkpoint's row; rows below it removed outside tidy -------------------------------
cp "$DB" "$T/cut.db"
sqlite3 "$T/cut.db" "DELETE FROM enrollment_events WHERE id >= $rows"
out=$("$PROVISIOND" audit verify --state-dir "$T/state" --store "sqlite:$T/cut.db" \
  --from-checkpoint "$T/cp1" 2>&1) && fail "cut chain passed"
expect_contains "cut at the checkpoint: its row is gone" "(the checkpoint's) is gone" "$out"
# Rows below removed without tidy (which moves audit_chain_base with them): the checkpoint's row
# has lost its link (rows keep no prev_hash since schema 12), so an edit of it could not be seen:
# it fails. A tidy's own cut verifies from a checkpoint: e2e/tidy_online, e2e/ca_rollover_evidence.
cp "$DB" "$T/below.db"
sqlite3 "$T/below.db" "DELETE FROM enrollment_events WHERE id < $rows"
out=$("$PROVISIOND" audit verify --state-dir "$T/state" --store "sqlite:$T/below.db" \
  --from-checkpoint "$T/cp1" 2>&1) && fail "rows below removed outside tidy passed"
expect_contains "rows below the checkpoint removed outside tidy: fails from it" \
  "rows below the checkpoint were deleted outside tidy" "$out"

# -- a broken chain gets no checkpoint ---------------------------------------------------------------
sql "UPDATE enrollment_events SET reason = 'edited' WHERE id = $head"
out=$("$PROVISIOND" audit checkpoint "${S[@]}" --out "$T/cp4" 2>&1) && fail "checkpoint of a broken chain"
expect_contains "broken chain: refused" "no checkpoint written" "$out"
check "nothing written" test ! -e "$T/cp4"
finish
