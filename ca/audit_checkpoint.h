// audit_checkpoint.h — an audit checkpoint: the audit chain's row id and row_hash at one moment,
// signed with the CA key, so that `audit verify --from-checkpoint` can start there.
#pragma once

#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ca/ca_key.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

struct AuditCheckpoint {
  int64_t id = 0;        // the chain row the checkpoint vouches for (>= 1)
  std::string row_hash;  // that row's row_hash: 64 lowercase hex digits
  int64_t rows = 0;      // rows in the chain up to and including it (>= 1)
  std::string time;      // when it was written, e.g. 2026-12-07T04:30:00Z
};

// The file, six LF-terminated lines in this order and nothing else:
//   provisiond-audit-checkpoint v1
//   id <decimal>
//   row_hash <64 lowercase hex>
//   rows <decimal>
//   time <YYYY-MM-DDTHH:MM:SSZ>
//   signature <base64 of the DER Ecdsa-Sig-Value over SHA-256 of the five lines above>
// The first line names what is signed, so the signature cannot be taken for the CA's signature
// on anything else (a certificate's or CRL's TBS is DER and starts with 0x30, this with 'p').
inline constexpr size_t kMaxCheckpointBytes = 1024;

// The file for `checkpoint`, signed by `key` (a file key or a token: ca_key.h) and verified under
// `ca_cert` before it is returned. kInvalidArgument for fields out of form; the key's errors.
Result<std::string> SignAuditCheckpoint(const AuditCheckpoint& checkpoint,
                                        const mbedtls_x509_crt& ca_cert, CaKey& key, Rng rng);

// Parses a checkpoint file and checks its signature under `ca_cert`'s key. kMalformed (one line
// naming what) for anything not exactly the form above, kCrypto for a signature that does not
// verify (a forged or edited checkpoint, or one signed by another CA key).
Result<AuditCheckpoint> VerifyAuditCheckpoint(std::string_view text,
                                              const mbedtls_x509_crt& ca_cert);

}  // namespace ca
