#!/usr/bin/env bash
# mtls_transcripts.sh — sourced by setup_mtls.sh: reads openssl s_client/s_server -msg transcripts
# (which alert, which messages, which error) and appends the table rows the script compares.
# Reading -msg transcripts. s_client and s_server print one line per TLS message, e.g.
#   ">>> TLS 1.3, Handshake [length 0008], Certificate"   (>>> sent, <<< received)
#   "<<< TLS 1.3, Alert [length 0002], fatal unknown_ca"  followed by the bytes "    02 30".

# alert_in FILE DIR: the first alert other than close_notify that DIR ('<<<' or '>>>') shows, as
# "fatal unknown_ca(48)" (level, name, number from the alert's second byte); "none" if none.
alert_in() {
  awk -v dir="$2" '
    function hex(s,   i, v) {
      v = 0
      for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    want { split($0, b, " "); printf "%s %s(%d)\n", level, name, hex(b[2]); done = 1; exit }
    index($0, dir " TLS ") == 1 && index($0, ", Alert [length 0002], ") && !/close_notify/ {
      level = $(NF - 1); name = $NF; want = 1
    }
    END { if (!done) print "none" }' "$1"
}

# client_sends FILE: the handshake messages s_client sent, "empty Certificate" for one without
# certificates (TLS 1.3: 8 bytes, TLS 1.2 and older: 7 bytes).
client_sends() {
  awk 'index($0, ">>> TLS ") == 1 && index($0, ", Handshake [length ") {
         m = $NF
         if (/TLS 1\.3, Handshake \[length 0008\], Certificate$/ ||
             /TLS 1\.[012], Handshake \[length 0007\], Certificate$/) m = "empty Certificate"
         s = s (s == "" ? "" : ", ") m
       }
       END { print s }' "$1"
}

# shows_first FILE: whether s_client reported a completed handshake ("New, TLSv1.x, Cipher is")
# before the first alert it received.
shows_first() {
  awk 'index($0, "<<< TLS ") == 1 && index($0, ", Alert [length 0002], ") && !/close_notify/ &&
         !alert { alert = NR }
       /^New, TLSv/ && !done { done = NR }
       END {
         if (!alert) print (done ? "completed handshake, no alert" : "no handshake, no alert")
         else if (done && done < alert) print "completed handshake, then the alert"
         else print "the alert; the handshake fails"
       }' "$1"
}

# ssl_error FILE: the reason of the first "error:...:SSL routines:FUNC:REASON:..." line.
ssl_error() {
  sed -n 's/^[0-9A-F]*:error:[0-9A-F]*:SSL routines:[^:]*:\([^:]*\):.*/\1/p;T;q' "$1"
}

# exit_cell RC ERRFILE: "0", or "1: tlsv1 alert unknown ca".
exit_cell() {
  local err
  err=$(ssl_error "$2")
  if [ -n "$err" ]; then echo "$1: $err"; else echo "$1"; fi
}

# s_server_prints FILE: verify errors, the accepted client certificate, the SSL error reason.
s_server_prints() {
  local errs subject reason out=()
  errs=$(sed -n 's/^verify error:num=\([0-9]*\):.*/\1/p' "$1" | awk '!seen[$0]++' | paste -sd, -)
  [ -z "$errs" ] || out+=("verify error:num=$errs")
  subject=$(awk '/^Client certificate$/ { c = 1 } c && sub(/^subject=/, "") { print; exit }' "$1")
  [ -z "$subject" ] || out+=("accepts $subject")
  reason=$(ssl_error "$1")
  [ -z "$reason" ] || out+=("$reason")
  if [ "${#out[@]}" -eq 0 ]; then echo none; else printf '%s\n' "${out[@]}" | join_lines '; '; fi
}

# certificate_request FILE: the fields (TLS 1.2) or extensions (TLS 1.3) of the CertificateRequest
# in an s_client -trace transcript, and the CA names s_client was offered.
certificate_request() {
  local fields names
  fields=$(sed -n '/^ *CertificateRequest, Length=/,/^$/p' "$1" |
    sed -n -e 's/^ *extension_type=\([a-z_]*\)(.*/\1/p' -e 's/^      \([a-z_]*\) (len=.*/\1/p' |
    paste -sd, - | sed 's/,/, /g')
  names=$(sed -n '/^Acceptable client certificate CA names$/,/^[A-Z][a-z]/p' "$1" |
    sed -n '/^CN = /p' | paste -sd, - | sed 's/,/, /g')
  echo "$fields; CA names: ${names:-none sent}"
}

# join_lines [SEP]: stdin's lines joined with SEP (default " // "); "none" for no lines.
join_lines() {
  awk -v sep="${1:- // }" '{ s = s (NR > 1 ? sep : "") $0 } END { print (NR ? s : "none") }'
}

tls_of() { case $1 in tls1_3) echo 1.3 ;; tls1_2) echo 1.2 ;; tls1_1) echo 1.1 ;; tls1) echo 1.0 ;; esac; }

# row TABLE CELL...: one observed row of TABLE.
row() {
  local table=$1 IFS='|' line
  shift
  line="$*"
  echo "${line//|/ | }" >> "observed.$table"
}
