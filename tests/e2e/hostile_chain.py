#!/usr/bin/env python3
"""hostile_chain.py OUT_DIR KIND — a client certificate chain nothing trusts, built at run time.

KIND issue12: the chain of issue #12 finding 1: an EC P-256 leaf and four expired "CA"
  certificates with RSA-8192 keys whose public exponents are ~8190 bits; every signature is
  1024 random bytes (the RSA-8192 size, so a verifier does the full modular exponentiation).
KIND one-rsa: the leaf and one such CA (2 certificates: within the count limit, refused by key).
KIND long: the leaf and six EC P-256 CA certificates (7 certificates, too many).
KIND big: the leaf with a CA certificate of ~6 KiB (a large extension: too big).
KIND allowed: the leaf and three CA certificates with fresh EC P-384 keys and random ECDSA
  signatures: within every limit, so the daemon verifies it in full (the most a chain can cost).
Writes OUT_DIR/KIND.leaf.pem, KIND.key.pem (the leaf's private key, so the client can sign
CertificateVerify) and KIND.chain.pem (the certificates above the leaf)."""
import datetime
import os
import secrets
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return tlv(0x02, b)


def rsa_spki(n, e):
    alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    key = tlv(0x30, der_int(n) + der_int(e))
    return tlv(0x30, alg + tlv(0x03, b"\x00" + key))


def huge_rsa_spki():
    n = secrets.randbits(8192) | (1 << 8191) | 1
    e = secrets.randbits(8190) | (1 << 8189) | 1
    return rsa_spki(n, e)


SHA256_RSA = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")
# A throwaway key only to let the builder produce a TBS; its SPKI is swapped, its signature dropped.
BUILDER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BUILDER_SPKI = BUILDER_RSA.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)


BUILDER_P384 = ec.generate_private_key(ec.SECP384R1())


def ecdsa_garbage():
    r, s = secrets.randbits(383) | 1 << 382, secrets.randbits(383) | 1 << 382
    return tlv(0x03, b"\x00" + tlv(0x30, der_int(r) + der_int(s)))


def cert(subject, issuer, public_key, spki=None, ca=True, expired=True, extra=None, p384=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=400), now - datetime.timedelta(days=30)) \
        if expired else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if extra is not None:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"),
                                                       extra), critical=False)
    if p384:
        signed = b.sign(BUILDER_P384, hashes.SHA384())
        alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a8648ce3d040303")))
        der = tlv(0x30, signed.tbs_certificate_bytes + alg + ecdsa_garbage())
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    tbs = b.sign(BUILDER_RSA, hashes.SHA256()).tbs_certificate_bytes
    if spki is not None:  # swap the SPKI: re-encode the TBS SEQUENCE around the new contents
        hdr = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
        tbs = tlv(0x30, tbs[hdr:].replace(BUILDER_SPKI, spki, 1))
    sig = tlv(0x03, b"\x00" + secrets.token_bytes(1024))
    der = tlv(0x30, tbs + SHA256_RSA + sig)
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def main():
    out, kind = sys.argv[1], sys.argv[2]
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("hostile-device", "Hostile CA 1", leaf_key.public_key(), ca=False, expired=False,
                p384=kind == "allowed")
    cas = []
    if kind in ("issue12", "one-rsa"):
        for i in range(1, 5 if kind == "issue12" else 2):
            cas.append(cert(f"Hostile CA {i}", f"Hostile CA {i + 1}", BUILDER_RSA.public_key(),
                            spki=huge_rsa_spki()))
    elif kind == "long":
        for i in range(1, 7):
            cas.append(cert(f"Hostile CA {i}", f"Hostile CA {i + 1}", BUILDER_RSA.public_key()))
    elif kind == "allowed":
        for i in range(1, 4):
            cas.append(cert(f"Hostile CA {i}", f"Hostile CA {i + 1}",
                            ec.generate_private_key(ec.SECP384R1()).public_key(), p384=True))
    elif kind == "big":
        cas.append(cert("Hostile CA 1", "Hostile CA 2", BUILDER_RSA.public_key(), extra=os.urandom(6000)))
    else:
        sys.exit(f"unknown kind {kind}")
    with open(os.path.join(out, f"{kind}.leaf.pem"), "wb") as f:
        f.write(leaf)
    with open(os.path.join(out, f"{kind}.chain.pem"), "wb") as f:
        f.write(b"".join(cas))
    with open(os.path.join(out, f"{kind}.key.pem"), "wb") as f:
        f.write(leaf_key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


if __name__ == "__main__":
    main()
