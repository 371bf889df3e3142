// status_check.h — the database lookups done during the TLS handshake: is this operational
// certificate still active (not revoked, and ours), is this bootstrap certificate denylisted.
// If the store cannot answer (kIo, kBusy, kFull: down, read-only, failing over, overloaded) the
// verdict is kUnavailable: nothing is issued on that connection, the device gets 503 and retries.
// Any other store error still refuses the certificate (fails closed).
#pragma once

#include "daemon/authority/peer.h"
#include "db/store_reader.h"

namespace provisiond {

class StoreStatusCheck : public CertificateStatusCheck {
 public:
  explicit StoreStatusCheck(db::StoreReader& store) : store_(store) {}
  StatusVerdict Check(const PresentedCert& leaf, AuthKind kind) override;

 private:
  db::StoreReader& store_;
};

}  // namespace provisiond
