// csr.h — PKCS#10 certificate requests: the checks every CSR passes before anything is signed.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/types.h"
#include "ca/cert.h"
#include "ca/error.h"

namespace ca {

inline constexpr size_t kMaxCsrDer = 4096;  // a P-256 CSR is ~250-500 bytes

// What a CSR that passed CheckCsr says. Only the public key and the identity are used for issuing:
// every other attribute or requested extension is ignored (the profile decides).
struct CheckedCsr {
  std::string subject;                       // as mbedTLS prints it, may be empty
  std::optional<std::string> common_name;    // first CN attribute, if any
  std::optional<std::string> serial_number;  // first serialNumber attribute, if any
  base::Bytes public_key_der;                // SubjectPublicKeyInfo DER (EC P-256)
  std::optional<std::string> challenge_password;  // PKCS#9 attribute (RFC 9266 channel binding)
};

// Parses and checks a DER PKCS#10 request:
//   size <= kMaxCsrDer and no trailing bytes (kMalformed),
//   parses as PKCS#10 (kMalformed),
//   key is EC P-256 (kUnsupportedKey, detail names the type: "RSA 2048", "EC P-384"),
//   signature algorithm ecdsa-with-SHA256 (kUnsupportedAlg),
//   self-signature verifies with the enclosed key: proof of possession (kBadSignature),
//   attributes parse (kMalformed); challengePassword, when present, is returned.
//
// With CsrKey::kIgnored (server-side key generation, RFC 7030 §4.4.1: "the server MUST ignore the
// public key values and signature in the CSR") the key type, the signature algorithm and the
// signature are not checked and public_key_der is left empty; framing, parsing, the subject and
// the attributes are checked as always.
enum class CsrKey { kProofOfPossession, kIgnored };
Result<CheckedCsr> CheckCsr(std::span<const unsigned char> der,
                            CsrKey key = CsrKey::kProofOfPossession);

// Does the CSR name the authenticated device? If the CSR carries the identity attribute
// (CN or serialNumber per source) it must equal device_id exactly (else kIdentityMismatch).
// A CSR without that attribute is accepted: the issued subject comes from the profile anyway.
Result<void> CheckCsrIdentity(const CheckedCsr& csr, std::string_view device_id,
                              IdentitySource source);

}  // namespace ca
