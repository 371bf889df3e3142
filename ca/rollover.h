// rollover.h — the certificates of a CA rollover (RFC 7030 §4.1.3, RFC 4210 §4.4): the next
// generation's self-signed root, with the old root's subject and profile, and the two link
// certificates that let a device holding either root reach the other.
#pragma once

#include <mbedtls/x509_crt.h>

#include <string>

#include "base/types.h"
#include "ca/ca_key.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

// The profile of every root provisiond makes (init and rollover): subject_dn (CertSpec form),
// CA:TRUE with pathLenConstraint 0, keyUsage keyCertSign | cRLSign (critical), SKI = AKI, a
// random 16-byte serial, signed by key itself. kInvalidArgument for a bad DN or times.
Result<base::Bytes> SelfSignedRoot(const std::string& subject_dn, base::UnixTime not_before,
                                   base::UnixTime not_after, CaKey& key, Rng rng);

// The three certificates of one rollover, DER.
//   new_ca        self-signed by the new key; the old root's subject; valid from `now` - 300 s
//                 for `days` days.
//   new_with_old  the new public key under the old root's subject, signed by the OLD key: a device
//                 that trusts the old root verifies it and so learns the new root. Valid from
//                 new_ca's notBefore to the earlier of the two roots' notAfter.
//   old_with_new  the old public key signed by the NEW key: a device (or relying party) that
//                 trusts only the new root reaches what the old key signed (the server certificate,
//                 old operational certificates). Valid for the old root's own validity.
// Both links are CA certificates of the roots' profile; since their subject and issuer names are
// the same (self-issued, RFC 5280 §6.1.4), they do not count against pathLenConstraint 0.
struct RolloverCerts {
  base::Bytes new_ca;
  base::Bytes new_with_old;
  base::Bytes old_with_new;
};

// old_key must be old_ca's key (kInvalidArgument otherwise), new_key a different P-256 key.
// The old subject must be one the CertSpec form can write again byte for byte (single-valued
// RDNs of attributes mbedTLS names, e.g. the "CN=..." init writes); kInvalidArgument naming the
// subject otherwise. days >= 1. Every certificate is verified under its signer before it is
// returned (SignCertificateWith); errors of the keys as CaKey::SignDigest.
Result<RolloverCerts> MakeRolloverCerts(const mbedtls_x509_crt& old_ca, CaKey& old_key,
                                        CaKey& new_key, base::UnixTime now, int days, Rng rng);

// The subject of `name` in CertSpec form ("CN=x,O=y", values escaped), or kInvalidArgument for a
// multi-valued RDN or an attribute without a short name.
Result<std::string> SubjectDnText(const mbedtls_x509_name& name);

}  // namespace ca
