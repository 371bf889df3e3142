// service.h — the EST operations (RFC 7030 §4, RFC 8951) under /.well-known/est/[<label>/]:
// cacerts, csrattrs, simpleenroll, simplereenroll, serverkeygen (RFC 7030 §4.4, --serverkeygen).
// Routes a request to its profile, hands enrollments to the authority (daemon/authority/
// enrollment.h, which decides), maps each outcome to an HTTP status and fixed reason, and records
// refusals (enrollment_events) before replying.
// One Service per worker thread (it owns that worker's Issuer and Enroller).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "ca/issuer.h"
#include "ca/rng.h"
#include "daemon/authority/enrollment.h"
#include "daemon/authority/peer.h"
#include "daemon/config.h"
#include "daemon/http/request_parser.h"
#include "daemon/http/response.h"
#include "daemon/post_queue.h"
#include "db/store_reader.h"

namespace provisiond::est {

class Service {
 public:
  // config: the config in force (a reload swaps it; the routes and labelled profiles are read
  // from it); issuer: this worker's own copy of the issuing CA; inbox: this worker's PostQueue;
  // reader: this worker's read connection to the store. `config`, `shared`, `inbox` and `reader`
  // outlive the service.
  Service(const std::atomic<const ServeConfig*>& config, EnrollShared& shared,
          std::unique_ptr<ca::Issuer> issuer, ca::Rng rng, PostQueue& inbox,
          db::StoreReader& reader);

  using Reply = std::function<void(http::Response)>;

  // Answers one request from an authenticated (or, with optional client auth, anonymous) peer.
  // Returns the response when it is known at once; otherwise returns nullopt and calls `later`
  // exactly once, on this worker's thread, never from inside Handle. Every refusal is a status
  // + fixed one-line reason, logged and (for enrollment endpoints) recorded in
  // enrollment_events. A 200 to an enrollment means the certificate row is committed.
  std::optional<http::Response> Handle(const http::Request& request,
                                       const PeerIdentity& peer,
                                       const std::string& peer_address, Reply later);

  // The CA generations in force (daemon/ca_generations.h), on this worker's thread: `issuer`
  // (null: keep the current one) issues from now on as generation `active_gen`; /cacerts answers
  // `cacerts` (certs-only PKCS#7); a device that fetches it with an operational certificate is
  // recorded once per process under `newest_gen` when that is a later generation than 1. Issuers
  // replaced here are kept until the service goes: attempts under way still sign with theirs.
  // `previous` (null: none) signs pending intents reserved under the generation the last
  // activation replaced, `previous_gen` (Enroller::SetIssuer); it replaces the one held before.
  void SetCa(std::unique_ptr<ca::Issuer> issuer, int64_t active_gen,
             const std::vector<base::Bytes>& cacerts, int64_t newest_gen,
             std::unique_ptr<ca::Issuer> previous = nullptr, int64_t previous_gen = 0);

 private:
  struct Route;
  std::optional<http::Response> Enroll(const Route& route, const http::Request& request,
                                       const PeerIdentity& peer,
                                       const std::string& peer_address, Reply later);
  // start: when the complete request was handed to Enroll (for the latency histogram).
  // Returns the response to send now, or nullopt when `later` will get it (after the event
  // row of a refusal is committed).
  // cacerts with an operational certificate: one cacerts_fetches row per device and generation,
  // submitted at most once per device while this process runs (the store ignores repeats).
  void RecordFetch(const PeerIdentity& peer);
  std::optional<http::Response> Finish(const EnrollRequest& request, const EnrollResult& result,
                                       std::chrono::steady_clock::time_point start, Reply later);

  const ServeConfig& config() const { return *config_.load(std::memory_order_acquire); }

  const std::atomic<const ServeConfig*>& config_;
  EnrollShared& shared_;
  std::unique_ptr<ca::Issuer> issuer_;
  std::unique_ptr<ca::Issuer> previous_issuer_;  // see SetCa
  std::vector<std::unique_ptr<ca::Issuer>> replaced_issuers_;  // see SetCa
  PostQueue& inbox_;
  Enroller enroller_;
  std::string cacerts_body_;         // base64 certs-only PKCS#7 of the CA chain (SetCa)
  int64_t newest_gen_ = 1;           // the newest CA generation /cacerts carries
  std::unordered_set<std::string> fetch_recorded_;  // devices submitted for newest_gen_
  std::string csrattrs_body_;        // base64 CsrAttrs, built once
  std::string csrattrs_tls13_body_;  // ... also announcing challengePassword (channel binding)
};

}  // namespace provisiond::est
