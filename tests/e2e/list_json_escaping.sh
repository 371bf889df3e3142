#!/usr/bin/env bash
# Issue #13 (one JSON library): `provisiond list --blocked --json` and `list --json` with device
# ids and reasons an operator or a CSR can put there — quotes, backslashes, control characters,
# non-ASCII and bytes that are not UTF-8 — print JSON that strict parsers (python3's json on the
# raw bytes, jq) accept, and the valid strings come back unchanged. No daemon is started.
. "$(dirname "$0")/lib.sh"

init_state
S="$T/state"
ID1=$'dev-"q"\\b\x01\x1f\t\nend'
ID2=$'Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac'
ID3=$'bad-\xff-\xc3'
REASON=$'reason "quoted" \\ \x7f \x02'
for id in "$ID1" "$ID2" "$ID3"; do
  "$PROVISIOND" block --state-dir "$S" --device-id "$id" --reason "$REASON" >/dev/null \
    || fail "block $(printf '%q' "$id")"
done
"$PROVISIOND" list --state-dir "$S" --blocked --json > "$T/blocked.json" \
  || fail "list --blocked --json"

# python3 decodes the bytes as strict UTF-8 and parses strict JSON; prints one repr per line.
strict() {
  python3 -c '
import json, sys
rows = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
for r in rows: print(ascii(r[sys.argv[2]]))' "$1" "$2"
}
ids=$(strict "$T/blocked.json" device_id) || fail "list --blocked --json is not strict UTF-8 JSON"
expect_eq "device ids round-trip; the invalid bytes are U+FFFD" \
  "$(printf '%s\n' "'dev-\"q\"\\\\b\\x01\\x1f\\t\\nend'" "'Z\\xfcrich-\\u6771\\u4eac'" \
       "'bad-\\ufffd-\\ufffd'" | sort)" "$(sort <<<"$ids")"
expect_eq "reasons round-trip" "'reason \"quoted\" \\\\ \\x7f \\x02'" \
  "$(strict "$T/blocked.json" reason | sort -u)"
expect_eq "jq reads it" "3" "$(jq length "$T/blocked.json" 2>&1)"
expect_eq "jq gives the device id back" "$ID2" \
  "$(jq -r --arg id "$ID2" '.[] | select(.device_id == $id) | .device_id' "$T/blocked.json")"

"$PROVISIOND" list --state-dir "$S" --json > "$T/certs.json" || fail "list --json"
expect_eq "list --json with no certificates" "0" "$(jq length "$T/certs.json" 2>&1)"
finish
