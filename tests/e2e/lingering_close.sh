#!/usr/bin/env bash
# Lingering close (daemon/connection_linger.cc): a request refused before its body was read (413)
# leaves the client sending; the daemon must let it send and read the answer (no RST), within
# a bound in bytes and in time. The flaky "64 KiB attribute -> 413: got '000'" of hostile_input.
. "$(dirname "$0")/lib.sh"

make_openssl_ca factory
make_openssl_device factory dev-l
init_state
start_daemon --trust "$T/factory.crt"
client() { timeout 30 python3 "$(dirname "$0")/lingering_close.py" "$1" "$PORT" "$CA" \
  "$T/dev-l.crt" "$T/dev-l.key" 2>&1; }

for i in 1 2 3; do
  expect_eq "client still sending its 256 KiB body reads the 413 ($i)" 413 "$(client slow)"
done

# curl sends the headers and a body over the limit at once (no Expect: 100-continue below 1 MiB).
head -c 262144 /dev/zero | tr '\0' A > "$T/big.b64"
for i in 1 2 3; do
  expect_eq "curl with a 256 KiB body gets the 413 ($i)" 413 "$(enroll_curl "$T/dev-l" "$T/big.b64")"
done

# The bounds: 1 MiB discarded at most (plus what the kernels' buffers hold), 2 s at most.
out=$(client flood)
n=$(sed -n 's/^ended after \([0-9]*\) bytes$/\1/p' <<< "$out")
check "a flood is cut after the byte bound, not the time bound ($out)" \
  test -n "$n" -a "${n:-0}" -lt $((32 * 1024 * 1024))
out=$(client trickle)
s=$(sed -n 's/^ended after \([0-9]*\)\.[0-9] seconds$/\1/p' <<< "$out")
check "a trickle is cut after the time bound ($out)" test -n "$s" -a "${s:-99}" -lt 6

expect_eq "nothing issued" 0 "$(sql "SELECT count(*) FROM certificates")"
finish
