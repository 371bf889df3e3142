# est_reference.sh — the EST reference server (libest's example estserver, Debian's libest-utils)
# for the side-by-side benchmark: fetched with apt-get download into the results dir, its example
# CA (openssl ca style: index.txt, serial, newcerts/) set up with a P-256 key. Sourced, not run.
# shellcheck shell=bash

# shellcheck disable=SC2034  # REFADDR is read by the step that sources this file
REFPID=""
REFADDR=""

# ref_fetch DIR: the estserver binary and libest under DIR/root (nothing is installed).
ref_fetch() {
  local d=$1 deb
  mkdir -p "$d/debs" "$d/root"
  (cd "$d/debs" && apt-get download libest-utils libest3 > /dev/null 2>&1)
  for deb in "$d"/debs/*.deb; do dpkg-deb -x "$deb" "$d/root"; done
  [ -x "$d/root/usr/bin/estserver" ] || { echo "estserver: download failed" >&2; return 1; }
}

# ref_ca DIR TRUST_PEM: the example CA (P-256), a server certificate for 127.0.0.1 issued by it,
# the CA's openssl config, and the trust store for client certificates (TRUST_PEM: the factory
# CA that signed the bootstrap identities).
ref_ca() {
  local d=$1 trust=$2 ca=$1/estCA
  mkdir -p "$ca/private" "$ca/newcerts"
  : > "$ca/index.txt"
  echo 01 > "$ca/serial"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=EST Reference CA" -keyout "$ca/private/cakey.pem" -out "$ca/cacert.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2> /dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2> /dev/null
  openssl x509 -req -in "$d/server.csr" -CA "$ca/cacert.crt" -CAkey "$ca/private/cakey.pem" \
    -CAcreateserial -days 365 -out "$d/server.crt" \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') 2> /dev/null
  cat "$d/server.crt" "$d/server.key" > "$d/servercertandkey.pem"
  cat "$trust" "$ca/cacert.crt" > "$d/trusted.crt"
  cat > "$d/ca.cnf" <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/cacert.crt
serial = \$dir/serial
private_key = \$dir/private/cakey.pem
default_days = 365
default_md = sha256
policy = policy_any
email_in_dn = no
copy_extensions = none
x509_extensions = client_cert
unique_subject = no
[ policy_any ]
commonName = supplied
serialNumber = optional
[ client_cert ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ req ]
distinguished_name = req_distinguished_name
[ req_distinguished_name ]
CNF
}

# ref_start DIR LOG: estserver on a free loopback port, TLS client auth only (-n); sets REFPID
# and REFADDR once it accepts connections.
ref_start() {
  local d=$1 log=$2 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (cd "$d" && EST_TRUSTED_CERTS=$d/trusted.crt EST_CACERTS_RESP=$d/estCA/cacert.crt \
    EST_OPENSSL_CACONFIG=$d/ca.cnf LD_LIBRARY_PATH=$d/root/usr/lib/x86_64-linux-gnu \
    exec "$d/root/usr/bin/estserver" -n -p "$port" -c "$d/servercertandkey.pem" \
    -k "$d/servercertandkey.pem" -r estrealm) > "$log" 2>&1 &
  REFPID=$!
  REFADDR=127.0.0.1:$port
  for _ in $(seq 1 50); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}
ref_stop() {
  [ -n "$REFPID" ] || return 0
  kill -TERM "$REFPID" 2> /dev/null || true
  wait "$REFPID" 2> /dev/null || true
  REFPID=""
}
