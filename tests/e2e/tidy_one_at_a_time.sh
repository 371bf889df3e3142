#!/usr/bin/env bash
# tidy_one_at_a_time.sh — one `provisiond tidy` at a time per store (db/tidy_lock.cc), on SQLite
# and on PostgreSQL: while another holder has the store's tidy lock (a process holding the lock
# file; a PostgreSQL session holding the advisory lock, as a tidy on another host would), tidy
# refuses with one line and removes nothing; then two tidies started together: each either
# finishes or refuses with that line, the expired certificates go exactly once, `audit verify`
# and every written archive verify.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$(dirname "$0")/../db/pg_cluster.sh"
PGSTATE="$T/pg"
HOLDER_PID=""
end_holder() {
  if [ -n "$HOLDER_PID" ]; then
    kill "$HOLDER_PID" 2>/dev/null || true
    wait "$HOLDER_PID" 2>/dev/null || true
  fi
  HOLDER_PID=""
}
trap 'end_holder || true; stop_daemon >/dev/null 2>&1 || true; bash "$PG_CLUSTER" stop "$PGSTATE" >/dev/null 2>&1 || true; cleanup' EXIT
REFUSAL="provisiond: tidy: another tidy is running on this store; nothing removed"
KEY=8102661234142831737  # kPgTidyLockKey, db/tidy_lock.cc

# enroll_and_expire STORE_ARGS...: 6 devices enroll, 4 of their certificates are made expired.
enroll_and_expire() {
  start_daemon --trust "$T/fleet/factory-ca.crt" "$@"
  out=$("$DEVICE_SIM" enroll --fleet "$T/fleet" --server "127.0.0.1:$PORT" --ca-bundle "$CA" \
        --devices "$(seq -f 'dev-%05g' 1 6 | paste -sd,)")
  expect_contains "$NAME: 6 devices enroll" "enroll: ok=6 failed=0" "$out"
  stop_daemon
  q "UPDATE certificates SET not_after = '2020-01-01T00:00:00Z' WHERE device_id <= 'dev-00004'"
  sleep 1.1  # event times are whole seconds: the rows so far are then all before "now"
}

tidy() {  # tidy ARCHIVE -> its output (stdout and stderr), exit status in the last line
  local rc=0 out
  out=$("$PROVISIOND" tidy "${S[@]}" --expired-before "$(date -u -d '-2 hours' +%FT%TZ)" \
        --events-before "$(date -u +%FT%TZ)" --archive "$1" 2>&1) || rc=$?
  printf '%s\nexit %s\n' "$out" "$rc"
}

# race: the lock held by someone else, then two tidies at once.
race() {
  out=$(tidy "$T/$NAME-held.archive")
  expect_eq "$NAME: refused while the lock is held" "$REFUSAL
exit 1" "$out"
  check "$NAME: ... and no archive started" test ! -e "$T/$NAME-held.archive"
  expect_eq "$NAME: ... nothing removed" 6 "$(q "SELECT count(*) FROM certificates")"
  end_holder
  # psql gone, its backend may still sleep holding the lock: end that session as well.
  if [ "$NAME" = postgresql ]; then
    pg_admin "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
  fi
  tidy "$T/$NAME-a.archive" > "$T/$NAME-a.out" &
  local a=$!
  tidy "$T/$NAME-b.archive" > "$T/$NAME-b.out" &
  local b=$!
  wait "$a" "$b"
  local done=0 removed=0
  for r in a b; do
    local o; o=$(cat "$T/$NAME-$r.out")
    if grep -q '^exit 0$' <<< "$o"; then
      done=$((done + 1))
      removed=$((removed + $(sed -n 's/^tidy: removed \([0-9]*\) certificates.*/\1/p' <<< "$o")))
      expect_contains "$NAME: tidy $r's archive verifies" "archive ok:" \
        "$("$PROVISIOND" audit verify-archive "${S[@]}" "$T/$NAME-$r.archive" 2>&1)"
    else
      expect_eq "$NAME: tidy $r refused with the one line" "$REFUSAL
exit 1" "$o"
    fi
  done
  check "$NAME: at least one of the two tidies ran" test "$done" -ge 1
  expect_eq "$NAME: the 4 expired certificates removed once" 4 "$removed"
  expect_eq "$NAME: 2 certificates left" 2 "$(q "SELECT count(*) FROM certificates")"
  expect_contains "$NAME: audit verify" "audit chain ok" "$("$PROVISIOND" audit verify "${S[@]}" 2>&1)"
}

"$DEVICE_SIM" factory --out "$T/fleet" --count 6 >/dev/null

# -- SQLite: the lock file beside the database --------------------------------------------------
NAME=sqlite
init_state
S=(--state-dir "$T/state")
q() { sql "$@"; }
enroll_and_expire
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close()
time.sleep(60)' "$DB-tidy.lock" "$T/held" &
HOLDER_PID=$!
for _ in $(seq 1 100); do [ -e "$T/held" ] && break; sleep 0.1; done
race

# -- PostgreSQL: the advisory lock, held by a session of its own ----------------------------------
NAME=postgresql
bash "$PG_CLUSTER" start "$PGSTATE" --tcp
if [ ! -s "$PGSTATE/conninfo" ]; then
  echo "FAIL: no PostgreSQL cluster: $(cat "$PGSTATE/error" 2>/dev/null)" >&2
  exit 1
fi
ADMIN=$(cat "$PGSTATE/conninfo")
psql -X "$ADMIN" -qAtc "CREATE ROLE app LOGIN PASSWORD 'Pw-lock-7q1'"
psql -X "$ADMIN" -qAtc "CREATE DATABASE provisiond OWNER app"
pg_admin() { psql -X "$ADMIN dbname=provisiond" -qAtc "$1"; }
q() { pg_admin "$1"; }
printf 'Pw-lock-7q1\n' > "$T/pw"
chmod 0600 "$T/pw"
STORE=(--store "postgresql://app@127.0.0.1:$(cat "$PGSTATE/port")/provisiond" --store-password-file "$T/pw")
rm -rf "$T/state"
init_state
S=(--state-dir "$T/state" "${STORE[@]}")
"$PROVISIOND" migrate "${STORE[@]}" >/dev/null 2>&1
enroll_and_expire "${STORE[@]}"
psql -X "$ADMIN dbname=provisiond" -qAt -c "SELECT pg_advisory_lock($KEY)" -c "SELECT pg_sleep(60)" \
  >/dev/null 2>&1 &
HOLDER_PID=$!
for _ in $(seq 1 100); do
  [ "$(pg_admin "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
  sleep 0.1
done
race
finish
