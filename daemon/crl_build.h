// crl_build.h — what goes into the CA's CRL, read from the store: shared by `provisiond crl`
// (admin.cc) and the CRL that serve publishes (crl_service.h), so both list the same entries.
#pragma once

#include <cstdint>
#include <optional>

#include "base/types.h"
#include "ca/crl.h"
#include "db/store.h"

namespace provisiond {

struct CrlContents {
  ca::CrlSpec spec;
  int64_t number = 0;  // spec.crl_number as an integer, for logs
};

// A complete CRL's spec: thisUpdate = now, nextUpdate = now + next_update_after, a fresh CRL
// number (Store::NextCrlNumber: strictly increasing, across restarts and processes), and every
// revoked certificate and revoked pending intent whose notAfter is later than
// now - keep_after_expiry (RFC 5280 §3.3: an entry may leave the CRL once its certificate has
// expired; keeping it a little longer covers relying parties whose clocks lag), each with its
// revocation time and reason. Records now - keep_after_expiry in the store (Store::NoteCrlBuilt:
// what `provisiond tidy` may remove of revoked rows). The store's error as is.
// With `gen` (#19 part 3, a CRL per CA generation): only the certificates that generation signed
// (certificates.ca_gen), and every revoked pending intent (an intent does not record which key
// may have signed it; its serial is unique in the store and both generations share the issuer
// name, so listing it on each CRL revokes nothing else). Without: every revoked row.
db::Result<CrlContents> CrlFromStore(db::Store& store, base::UnixTime now,
                                     base::UnixTime next_update_after,
                                     base::UnixTime keep_after_expiry,
                                     std::optional<int64_t> gen = std::nullopt);

}  // namespace provisiond
