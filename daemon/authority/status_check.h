// status_check.h — the database lookups done during the TLS handshake: is this operational
// certificate still active (not revoked, and ours), is this bootstrap certificate denylisted.
// Fails closed: if the store cannot answer, the certificate is refused.
#pragma once

#include "daemon/authority/peer.h"
#include "db/store_reader.h"

namespace provisiond {

class StoreStatusCheck : public CertificateStatusCheck {
 public:
  explicit StoreStatusCheck(db::StoreReader& store) : store_(store) {}
  std::optional<std::string> Refuse(const PresentedCert& leaf, AuthKind kind) override;

 private:
  db::StoreReader& store_;
};

}  // namespace provisiond
