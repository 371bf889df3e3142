# service_lib.sh — helpers for the systemd-integration tests, sourced after lib.sh: a stand-in
# for the service manager's notify socket (sd_notify), free ports for socket activation, waiting
# for log lines, and the daemon's exit status after SIGTERM. No systemd as PID 1 is needed.

NOTIFY_PID=""
service_cleanup() {
  if [ -n "$NOTIFY_PID" ]; then kill "$NOTIFY_PID" 2>/dev/null || true; fi
  cleanup
}
trap service_cleanup EXIT

# start_notify_listener: binds an AF_UNIX datagram socket at $T/notify.sock as systemd does for
# Type=notify and appends each datagram to $NOTIFY_LOG as one line ("READY=1|STATUS=...":
# the newlines inside one message become '|'). Export NOTIFY_SOCKET=$T/notify.sock to use it.
start_notify_listener() {
  NOTIFY_LOG="$T/notify.log"
  : > "$NOTIFY_LOG"
  python3 - "$T/notify.sock" "$NOTIFY_LOG" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(65536).decode("utf-8", "replace")
        log.write(msg.strip("\n").replace("\n", "|") + "\n")
PY
  NOTIFY_PID=$!
  for _ in $(seq 1 50); do [ -S "$T/notify.sock" ] && return 0; sleep 0.1; done
  echo "notify listener did not start" >&2
  exit 1
}

# wait_for_line FILE EXTENDED_REGEX [SECONDS]: true once a line of FILE matches (default 10 s).
wait_for_line() {
  local file=$1 re=$2 tries=$(( ${3:-10} * 10 ))
  for _ in $(seq 1 "$tries"); do
    grep -qE -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# term_daemon [SECONDS]: SIGTERM, wait (default 15 s), DAEMON_EXIT=the exit status ("timeout"
# if it did not exit; it is then killed).
term_daemon() {
  local tries=$(( ${1:-15} * 10 ))
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  for _ in $(seq 1 "$tries"); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID"
    DAEMON_EXIT=timeout
  else
    DAEMON_EXIT=0
    wait "$DAEMON_PID" || DAEMON_EXIT=$?
  fi
  DAEMON_PID=""
}

# metric NAME_WITH_LABELS: its value in a scrape of $METRICS_URL/metrics (empty if absent).
metric() {
  curl -sS "$METRICS_URL/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
