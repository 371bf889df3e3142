# token_lib.sh — a SoftHSM2 token of the test's own (sourced after lib.sh): its own
# SOFTHSM2_CONF and token directory under $T, a token labelled "provisiond", and a PIN file (0600).
# The test PINs go to softhsm2-util's argv: a throw-away token in a temp dir, nothing else.
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
command -v softhsm2-util >/dev/null && [ -e "$SOFTHSM_MODULE" ] ||
  { echo "softhsm2 is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
HSM="$T/hsm"
mkdir -p "$HSM/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$HSM/tokens" > "$HSM/softhsm2.conf"
export SOFTHSM2_CONF="$HSM/softhsm2.conf"
TOKEN_PIN=51k7-test-pin
softhsm2-util --init-token --free --label provisiond --pin "$TOKEN_PIN" --so-pin 0000-so >/dev/null
( umask 077; printf '%s\n' "$TOKEN_PIN" > "$HSM/pin" )
TOKEN_URI="pkcs11:token=provisiond;object=ca?module-path=$SOFTHSM_MODULE&pin-source=file:$HSM/pin"

# pkcs11 ARGS...: pkcs11-tool on the test token, logged in.
pkcs11() {
  pkcs11-tool --module "$SOFTHSM_MODULE" --token-label provisiond --login --pin "$TOKEN_PIN" "$@"
}

# metric NAME: the value of an unlabelled metric from the daemon's /metrics ($METRICS_PORT).
metric() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# start_daemon_metrics [serve args...]: start_daemon with a metrics listener; sets METRICS_PORT.
start_daemon_metrics() {
  start_daemon --metrics-listen 127.0.0.1:0 "$@"
  for _ in $(seq 1 50); do
    METRICS_PORT=$(sed -n 's/.*metrics_listening address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/daemon.log")
    [ -n "$METRICS_PORT" ] && return 0
    sleep 0.1
  done
  echo "no metrics listener" >&2; exit 1
}
