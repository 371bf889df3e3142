// enrollment.h — the decision for simpleenroll/simplereenroll: who may enroll, which CSR is
// acceptable, and the policy-checked, durable issuance. Returns a domain outcome; the EST layer
// (est/service.cc) turns it into an HTTP status and a fixed reason.
//
// Order of checks (each refusal is one Code below, recorded as an enrollment_events row):
//   rate limits -> certificate kind for the endpoint -> device id -> CSR (base64, PKCS#10, key,
//   algorithm, proof of possession) -> CSR identity -> channel binding -> key reuse against the
//   client certificate -> renewal window -> sign -> one transaction: key reuse across devices,
//   same-key retry (answer the certificate already issued), bootstrap use limit, insert.
#pragma once

#include <memory>
#include <string>

#include "ca/csr.h"
#include "ca/issuer.h"
#include "ca/rng.h"
#include "daemon/config.h"
#include "daemon/rate_limiter.h"
#include "daemon/tls/session.h"
#include "db/store.h"

namespace provisiond {

enum class EnrollCode {
  kIssued,                // new certificate committed
  kAlreadyIssued,         // same bootstrap, same key: the committed certificate again
  kNoClientCertificate,   // optional client auth and none presented
  kNeedsBootstrap,        // operational certificate on simpleenroll
  kNeedsOperational,      // bootstrap certificate on simplereenroll
  kNoDeviceId,            // the client certificate names no acceptable id
  kBadContentType,
  kBadBase64,
  kBadCsr,                // ca::Error in `csr_error`
  kChannelBinding,        // challengePassword is not this connection's tls-exporter value
  kKeyReuse,              // CSR key = client cert key, or certified for another device
  kSameKeyRenewal,        // re-enrollment must use a new key (unless configured)
  kTooEarly,              // renewal window not open; `detail` holds the date it opens
  kBootstrapExhausted,    // this bootstrap certificate already obtained its certificate(s)
  kRateLimited,           // `retry_after` seconds
  kStoreUnavailable,      // busy, full or I/O: try again later
  kStoreFailed,           // the record could not be written: nothing issued
  kInternal,
};

struct EnrollRequest {
  bool reenroll = false;
  std::string endpoint;  // for the event row: "simpleenroll", "line-a/simplereenroll"
  const ca::Profile* profile = nullptr;
  std::string content_type;
  std::string body;
  const tls::PeerIdentity* peer = nullptr;
  std::string peer_address;
};

struct EnrollResult {
  EnrollCode code = EnrollCode::kInternal;
  std::string detail;          // for the journal only
  ca::Code csr_error = ca::Code::kMalformed;
  int retry_after = 0;
  ca::Bytes der;               // kIssued / kAlreadyIssued
  std::string serial_hex;
};

// Shared by all workers; thread-safe.
struct EnrollShared {
  const ServeConfig& config;
  db::Store& store;
  RateLimiter device_limiter;
  RateLimiter address_limiter;
};

// One per worker (owns nothing shared but uses the worker's issuer and RNG).
class Enroller {
 public:
  Enroller(EnrollShared& shared, ca::Issuer& issuer, ca::Rng rng)
      : shared_(shared), issuer_(issuer), rng_(rng) {}
  // Decides and, when allowed, issues and commits. Never throws.
  EnrollResult Enroll(const EnrollRequest& request);

 private:
  EnrollResult CheckRequest(const EnrollRequest& request, ca::CheckedCsr* csr);
  EnrollResult IssueAndRecord(const EnrollRequest& request, const ca::CheckedCsr& csr,
                              db::EventRecord event);

  EnrollShared& shared_;
  ca::Issuer& issuer_;
  ca::Rng rng_;
};

// Short name for logs and event reasons, e.g. "bootstrap_exhausted".
const char* EnrollCodeName(EnrollCode code);

}  // namespace provisiond
