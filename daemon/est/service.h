// service.h — the EST operations (RFC 7030 §4, RFC 8951) under /.well-known/est/[<label>/]:
// cacerts, csrattrs, simpleenroll, simplereenroll. This is where a request becomes a decision:
// who may call what, CSR checks, issuance, and the durable record before the reply.
// One Service per worker thread (it owns that worker's Issuer); the Store is shared.
#pragma once

#include <memory>
#include <string>

#include "ca/issuer.h"
#include "ca/rng.h"
#include "daemon/config.h"
#include "daemon/enrollment.h"
#include "daemon/http/request_parser.h"
#include "daemon/http/response.h"
#include "daemon/tls/session.h"
#include "db/store.h"

namespace provisiond::est {

class Service {
 public:
  // issuer: this worker's own copy of the issuing CA. `shared` outlives the service.
  Service(EnrollShared& shared, std::unique_ptr<ca::Issuer> issuer, ca::Rng rng);

  // Answers one request from an authenticated (or, with optional client auth, anonymous) peer.
  // Never throws; every refusal is a status + fixed one-line reason, logged and (for enrollment
  // endpoints) recorded in enrollment_events. A 200 to an enrollment means the certificate row
  // is committed.
  http::Response Handle(const http::Request& request, const tls::PeerIdentity& peer,
                        const std::string& peer_address);

 private:
  struct Route;
  http::Response Enroll(const Route& route, const http::Request& request,
                        const tls::PeerIdentity& peer, const std::string& peer_address);

  EnrollShared& shared_;
  std::unique_ptr<ca::Issuer> issuer_;
  Enroller enroller_;
  std::string cacerts_body_;         // base64 certs-only PKCS#7 of the CA chain, built once
  std::string csrattrs_body_;        // base64 CsrAttrs, built once
  std::string csrattrs_tls13_body_;  // ... also announcing challengePassword (channel binding)
};

}  // namespace provisiond::est
