#!/usr/bin/env python3
# tls_raw.py — a raw-record TLS 1.3 client for tests/e2e/tls_alerts.sh: sends one malformed or
# mislabelled message and prints what came back: "plain <alert>", "app <alert>" (under the server
# application keys), "hs <alert>" (under the handshake keys), "app-data <first line>", "close".
import hashlib, hmac, socket, struct, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
          40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
          46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 50: "decode_error",
          51: "decrypt_error", 70: "protocol_version", 80: "internal_error",
          109: "missing_extension", 116: "certificate_required"}
H = lambda b: hashlib.sha256(b).digest()


def u8(b): return bytes([len(b)]) + b
def u16(b): return struct.pack(">H", len(b)) + b
def u24(b): return struct.pack(">I", len(b))[1:] + b
def ext(t, body): return struct.pack(">H", t) + u16(body)
def hs(t, body): return bytes([t]) + u24(body)


def expand_label(secret, label, context, length):
    info = struct.pack(">H", length) + u8(b"tls13 " + label) + u8(context)
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def extract(salt, ikm): return hmac.new(salt, ikm, hashlib.sha256).digest()


class Keys:
    def __init__(self, secret):
        self.aead = AESGCM(expand_label(secret, b"key", b"", 16))
        self.iv, self.seq = expand_label(secret, b"iv", b"", 12), 0

    def nonce(self):
        n = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
        self.seq += 1
        return n

    def seal(self, ctype, data, pad=0):  # pad: zero bytes after the content type (RFC 8446 §5.4)
        hdr = struct.pack(">BHH", 23, 0x0303, len(data) + 17 + pad)
        return hdr + self.aead.encrypt(self.nonce(), data + bytes([ctype]) + bytes(pad), hdr)

    def open(self, hdr, body):  # (content type, content) or None; seq moves only on success
        try:
            n = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
            inner = self.aead.decrypt(n, body, hdr).rstrip(b"\0")
        except Exception:
            return None
        self.seq += 1
        return inner[-1], inner[:-1]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data): self.s.sendall(data)

    def record(self):  # (header, body) or None at EOF / timeout
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack(">H", self.buf[3:5])[0]
                if len(self.buf) >= 5 + n:
                    r, self.buf = (self.buf[:5], self.buf[5:5 + n]), self.buf[5 + n:]
                    return r
            try:
                got = self.s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return None
            if not got:
                return None
            self.buf += got


def client_hello(share_group=0x001d, share=None, groups=(0x001d,), pad=0):
    priv = x25519.X25519PrivateKey.generate()
    if share is None:
        share = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    exts = (ext(43, u8(b"\x03\x04")) +
            ext(10, u16(b"".join(struct.pack(">H", g) for g in groups))) +
            ext(13, u16(struct.pack(">HH", 0x0403, 0x0503))) +
            ext(51, u16(struct.pack(">H", share_group) + u16(share))))
    if pad:
        exts += ext(21, bytes(pad))
    body = (b"\x03\x03" + bytes(32) + u8(bytes(32)) + u16(b"\x13\x01") + u8(b"\x00") + u16(exts))
    return priv, hs(1, body)


def records(payload, ctype=22, size=16384):
    return b"".join(struct.pack(">BHH", ctype, 0x0301, len(payload[i:i + size])) +
                    payload[i:i + size] for i in range(0, len(payload), size))


def verdict(conn, keys_by_name):
    """What the server sends next: the first alert or application data, and under which keys."""
    while True:
        r = conn.record()
        if r is None:
            return "close"
        hdr, body = r
        if hdr[0] == 21:
            return "plain " + ALERTS.get(body[1], str(body[1])) if len(body) == 2 else "plain ?"
        if hdr[0] != 23:
            continue
        for name, keys in keys_by_name:
            opened = keys.open(hdr, body)
            if opened and opened[0] == 21:
                return name + " " + ALERTS.get(opened[1][1], str(opened[1][1]))
            if opened and opened[0] == 23:
                return "app-data " + opened[1].split(b"\r\n")[0].decode()
            if opened:
                break
        else:
            return "undecryptable"


def handshake_messages(data):
    while data:
        n = int.from_bytes(data[1:4], "big")
        yield data[0], data[:4 + n]
        data = data[4 + n:]


def server_flight(conn, srv, transcript):
    """Reads EncryptedExtensions .. Finished; returns (transcript, certificate_request_context)."""
    data, ctx = b"", b""
    while True:
        hdr, body = conn.record()
        if hdr[0] == 20:  # middlebox-compatibility ChangeCipherSpec
            continue
        data += srv.open(hdr, body)[1]
        for typ, msg in handshake_messages(data):
            transcript += msg
            if typ == 13:
                ctx = msg[5:5 + msg[4]]
            if typ == 20:
                return transcript, ctx
        data = b""


def server_share(sh):
    p = 4 + 2 + 32
    p += 1 + sh[p] + 3
    end = p + 2 + int.from_bytes(sh[p:p + 2], "big")
    p += 2
    while p < end:
        typ, n = int.from_bytes(sh[p:p + 2], "big"), int.from_bytes(sh[p + 2:p + 4], "big")
        if typ == 51:
            return sh[p + 8:p + 4 + n]
        p += 4 + n
    raise SystemExit("no key_share in ServerHello")


def flip(b, i=-1):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def full_handshake(port, cert_path, key_path, mutation):
    conn = Conn(port)
    priv, ch = client_hello()
    conn.send(records(ch))
    sh = conn.record()[1]
    shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(server_share(sh)))
    transcript = ch + sh
    empty = H(b"")
    hs_secret = extract(expand_label(extract(bytes(32), bytes(32)), b"derived", empty, 32), shared)
    c_hs = expand_label(hs_secret, b"c hs traffic", H(transcript), 32)
    srv = Keys(expand_label(hs_secret, b"s hs traffic", H(transcript), 32))
    cli = Keys(c_hs)
    transcript, ctx = server_flight(conn, srv, transcript)
    master = extract(expand_label(hs_secret, b"derived", empty, 32), bytes(32))
    app_cli = Keys(expand_label(master, b"c ap traffic", H(transcript), 32))
    app_srv = Keys(expand_label(master, b"s ap traffic", H(transcript), 32))

    cert = open(cert_path, "rb").read()
    cert_der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
    cert_msg = hs(11, u8(ctx) + u24(u24(cert_der) + u16(b"")))
    transcript += cert_msg
    scheme, digest = 0x0403, hashes.SHA256()
    if mutation == "scheme-p384":  # the P-256 key signs, the label says P-384
        scheme, digest = 0x0503, hashes.SHA384()
    content = b" " * 64 + b"TLS 1.3, client CertificateVerify\0" + H(transcript)
    sig = key.sign(content, ec.ECDSA(digest))
    if mutation == "cv-signature":
        sig = flip(sig, len(sig) // 2)
    cv = hs(15, struct.pack(">H", scheme) + u16(sig))
    transcript += cv
    finished_key = expand_label(c_hs, b"finished", b"", 32)
    verify = hmac.new(finished_key, H(transcript), hashlib.sha256).digest()
    if mutation == "finished":
        verify = flip(verify)
    flight = [cli.seal(22, cert_msg), cli.seal(22, cv), cli.seal(22, hs(20, verify))]
    if mutation == "record":
        flight[1] = flip(flight[1])
    elif mutation == "big-plaintext":  # a Certificate record with 2^14 + 1 bytes of content
        flight[0] = Keys(c_hs).seal(22, cert_msg + bytes(16385 - len(cert_msg)))
    elif mutation == "pad-overflow":  # legal record length, TLSInnerPlaintext over 2^14 + 1
        flight[0] = Keys(c_hs).seal(22, cert_msg, pad=16385 - len(cert_msg))
    elif mutation == "big-ciphertext":  # a record longer than 2^14 + 256 (RFC 8446 §5.2)
        flight[0] = struct.pack(">BHH", 23, 0x0303, 16641) + bytes(16641)
    if mutation.startswith("big-"):
        flight = flight[:1]  # the rest would stay unread in the server's socket (see below)
    request = app_cli.seal(23, b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    # One write: the server reads it all in one recv, so when it refuses and closes nothing is
    # left unread in its socket, which would make the kernel send a reset that can discard the
    # alert before the client reads it.
    conn.send(b"".join(flight) + request)
    return verdict(conn, [("app", app_srv), ("hs", srv)])


def hello_case(port, case):
    conn = Conn(port)
    if case == "empty-alert":
        conn.send(struct.pack(">BHH", 21, 0x0301, 0))
    elif case == "sslv2":
        conn.send(b"\x80\x03\x01\x03\x03")  # SSLv2 header: length 3, ClientHello, version 3.3
    elif case == "big-record":  # one plaintext record announcing 2^14 + 1 bytes (RFC 8446 §5.1)
        conn.send(struct.pack(">BHH", 22, 0x0301, 16385) + bytes(16385))
    else:
        kw = {"zero-share": dict(share=bytes(32)),
              "short-share": dict(share=b"\x01" * 31),
              "no-group": dict(share_group=0x0019, share=b"\x04" + bytes(132), groups=(0x0019,)),
              "big-hello": dict(pad=17000),
              "split-header": {}}[case]
        ch = client_hello(**kw)[1]
        if case == "split-header":
            conn.send(records(ch[:2]) + records(ch[2:]))
        else:
            conn.send(records(ch))
    return verdict(conn, [])


def tls12_certificate_verify(port, cert_path, key_path, mutation):
    """TLS 1.2 ECDHE-ECDSA up to the client's CertificateVerify (signed over the handshake so far,
    RFC 5246 §7.4.8), which arrives before ChangeCipherSpec: the reply is in the clear."""
    conn = Conn(port)
    priv = x25519.X25519PrivateKey.generate()
    exts = ext(10, u16(b"\x00\x1d\x00\x17")) + ext(11, u8(b"\x00")) + ext(13, u16(b"\x04\x03"))
    ch = hs(1, b"\x03\x03" + bytes(32) + u8(b"") + u16(b"\xc0\x2b") + u8(b"\x00") + u16(exts))
    conn.send(records(ch))
    transcript, data = ch, b""
    while not data.endswith(b"\x0e\x00\x00\x00"):  # ServerHelloDone
        data += conn.record()[1]
    transcript += data
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    flight = (hs(11, u24(u24(cert.public_bytes(serialization.Encoding.DER)))) + hs(16, u8(pub)))
    sig = key.sign(transcript + flight, ec.ECDSA(hashes.SHA256()))
    if mutation == "tls12-cv-signature":
        sig = flip(sig, len(sig) // 2)
    conn.send(records(flight + hs(15, b"\x04\x03" + u16(sig))))
    conn.s.settimeout(2)  # a correct CertificateVerify gets no reply until ChangeCipherSpec
    return verdict(conn, [])


if __name__ == "__main__":
    port, case = int(sys.argv[1]), sys.argv[2]
    if case.startswith("tls12-"):
        print(tls12_certificate_verify(port, sys.argv[3], sys.argv[4], case))
    elif len(sys.argv) > 3:
        print(full_handshake(port, sys.argv[3], sys.argv[4], case))
    else:
        print(hello_case(port, case))
