// store_reader.h — db::StoreReader, the read-only lookups of the store that the daemon's authority
// makes (renewal's record, the handshake's status checks). db::Store (store.h) extends it.
#pragma once

#include <optional>
#include <string_view>

#include "db/manifest_records.h"
#include "db/records.h"

namespace db {

// The authority holds only this: it cannot write except through db::IssuanceQueue. Part of the
// db::Store contract (store.h): thread-safe, and every value bound as a parameter.
class StoreReader {
 public:
  virtual ~StoreReader() = default;
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  // Revocation state of one certificate (or of a pending intent with that serial when no
  // certificate has it). On the handshake path: indexed lookups by serial, never a scan.
  virtual Result<CertStatus> CertificateStatus(std::string_view serial_hex) = 0;
  // true if a row has this fingerprint, or has this issuer AND this serial. Exact text match,
  // indexed (handshake path): pass the values as ca::Sha256Hex, ca::DnString and
  // ca::CertSerialHex render them. "" matches nothing.
  virtual Result<bool> IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                         std::string_view serial_hex) = 0;
  // The certificate with this serial (canonical hex), nullopt if none (a pending intent is none).
  virtual Result<std::optional<CertificateRecord>> FindBySerial(std::string_view serial_hex) = 0;
  // The manifest row listing this bootstrap certificate (lowercase hex SHA-256 of its DER), with
  // its batch; nullopt if no manifest lists it. One probe of a unique index (enrollment path,
  // `serve --require-manifest`). Manifest rows are never removed, so a certificate found stays
  // listed: the answer cannot go stale between this read and the issuance.
  virtual Result<std::optional<ManifestEntry>> FindInManifest(std::string_view bootstrap_sha256) = 0;

 protected:
  StoreReader() = default;
};

}  // namespace db
