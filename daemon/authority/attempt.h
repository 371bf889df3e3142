// attempt.h — what enrollment.cc (the checks) and issuance.cc (reserve, sign, complete) share:
// one issuance in flight and the helpers that build a refusal.
// Private to daemon/authority/.
#pragma once

#include <memory>
#include <string>

#include "ca/csr.h"
#include "ca/issuer.h"
#include "daemon/authority/enrollment.h"
#include "db/records.h"

namespace provisiond {

struct Enroller::Attempt {
  EnrollRequest req;
  DeviceName name;
  ca::CheckedCsr csr;
  EnrollDone done;
  int reservations = 0;  // a duplicate serial (2^-127) is retried with a new one
  ca::PreparedCert prepared;
  std::shared_ptr<const ca::ServerKey> server_key;  // serverkeygen: the key being certified
  // The issuer (and its CA generation) the TBS was prepared with: a reload that activates another
  // generation meanwhile does not change who signs this attempt.
  ca::Issuer* issuer = nullptr;
  int64_t ca_gen = 1;
};

// A result with `code` and the journal's `detail` (kIssued with "" means "go on").
inline EnrollResult Refuse(EnrollCode code, std::string detail) {
  EnrollResult r;
  r.code = code;
  r.detail = std::move(detail);
  return r;
}

// busy, full, I/O: try again later (503); anything else: nothing was written (500).
inline EnrollResult FromStoreError(const db::Error& e) {
  const bool transient =
      e.code == db::Code::kBusy || e.code == db::Code::kFull || e.code == db::Code::kIo;
  return Refuse(transient ? EnrollCode::kStoreUnavailable : EnrollCode::kStoreFailed, e.detail);
}

}  // namespace provisiond
