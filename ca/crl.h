// crl.h — writes and signs X.509 v2 CRLs (RFC 5280 §5) for the issuing CA, and names the
// CRLReason codes for the CLI. mbedTLS parses CRLs but has no writer; this one uses asn1write.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <optional>
#include <string_view>
#include <vector>

#include "base/types.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

class CaKey;

// RFC 5280 §5.3.1 CRLReason values (7 is unassigned).
enum RevocationReason : int {
  kReasonUnspecified = 0,
  kReasonKeyCompromise = 1,
  kReasonCaCompromise = 2,
  kReasonAffiliationChanged = 3,
  kReasonSuperseded = 4,
  kReasonCessationOfOperation = 5,
  kReasonCertificateHold = 6,
  kReasonRemoveFromCrl = 8,
  kReasonPrivilegeWithdrawn = 9,
  kReasonAaCompromise = 10,
};

struct RevokedEntry {
  // The certificate's serialNumber INTEGER contents exactly as encoded in the certificate (what
  // mbedtls_x509_crt::serial holds): 1..20 octets, positive, minimal DER.
  base::Bytes serial;
  base::UnixTime revocation_date = 0;
  // A CRLReason. 0 (unspecified) writes no reasonCode extension, as RFC 5280 §5.3.1 asks.
  // removeFromCRL (8) is refused: it belongs only in delta CRLs, and this writes complete ones.
  int reason = kReasonUnspecified;
};

struct CrlSpec {
  base::UnixTime this_update = 0;
  base::UnixTime next_update = 0;  // must be after this_update
  base::Bytes crl_number;          // cRLNumber contents: positive minimal DER INTEGER, 1..20 octets
  std::vector<RevokedEntry> revoked;  // written in this order; serials must be distinct
};

// At most this many entries per CRL; the output buffer is sized from the count.
inline constexpr size_t kMaxCrlEntries = 1000000;

// Signs a complete CRL with the issuing CA and returns its DER:
//   version v2; signature ecdsa-with-SHA256; issuer = ca_cert's subject, copied as raw DER so it
//   matches byte for byte; thisUpdate/nextUpdate as UTCTime through 2049 and GeneralizedTime
//   from 2050; revokedCertificates (absent when empty), each entry with a non-critical reasonCode
//   when reason != 0; crlExtensions: authorityKeyIdentifier (keyIdentifier = ca_cert's SKI) and
//   cRLNumber, both non-critical.
// All times must fall in the years 1950..9999. revocation_date is not compared with this_update:
// an issuer may backdate thisUpdate for clock skew.
// Fails with kInvalidArgument for a bad spec (serials, CRL number, reasons, times, duplicate or too
// many entries) or an unusable CA (no SKI, keyUsage without cRLSign, key not matching the
// certificate); kUnsupportedKey if the CA's key is not an EC key; kUnavailable if ca_key (a token)
// is out of reach; kCrypto if hashing, signing or the RNG fails, or the signature does not verify
// under ca_cert's key. Only reads ca_cert; ca_key is one thread's (ca_key.h).
Result<base::Bytes> SignCrl(const CrlSpec& spec, const mbedtls_x509_crt& ca_cert, CaKey& ca_key,
                            Rng rng);

// The code for an RFC 5280 reason name ("keyCompromise", "cACompromise", ...; "unspecified" is 0),
// compared ASCII case-insensitively. nullopt for anything else. Includes removeFromCRL (8), which
// SignCrl refuses, so a CLI that accepts a reason for a CRL entry should also refuse 8.
std::optional<int> RevocationReasonCode(std::string_view name);

// The RFC 5280 name of a reason code ("keyCompromise"), or nullptr if code is not a CRLReason.
// The string is static.
const char* RevocationReasonName(int code);

}  // namespace ca
