// enrollment.h — the authority's decision for simpleenroll/simplereenroll: who may enroll, which
// CSR is acceptable, and the policy-checked, durable issuance. Returns a domain outcome; the EST
// layer (est/service.cc) turns it into an HTTP status and a fixed reason. Knows no socket, no TLS
// and no HTTP: it reads time from a TimeSource, writes only through a db::IssuanceQueue, reads
// through a db::StoreReader (no write method), and returns to its own thread through an Executor.
//
// Order of checks (each refusal is one Code below; the caller records it, EST as an
// enrollment_events row in est/service.cc Finish):
//   client certificate present -> the handshake's status check answered (else kStoreUnavailable:
//   the store was down, nothing else is done) -> rate limits (per source address; per device id
//   within --identity-scope, or per client certificate when it names no device id) ->
//   certificate kind for the endpoint -> (serverkeygen) TLS 1.3 -> device id -> labelled profile's allow rule (bootstrap)
//   -> content type -> CSR (base64, PKCS#10, key, algorithm, proof of possession) -> CSR
//   identity -> channel binding
//   -> key reuse against the client certificate (serverkeygen: the CSR's key and signature are
//   ignored, RFC 7030 §4.4.1; a P-256 key is generated after these checks and certified instead) -> same-key renewal -> renewal window ->
//   (renewal) the certificate's stored profile and device id must be the endpoint's and the
//   certificate's (one read on the worker's store connection); (bootstrap, --require-manifest)
//   the bootstrap certificate must be in a factory manifest, under the device id the
//   certificate names (manifest_check.cc; one read). Then issuance in the Boulder
//   order, never blocking the worker on the store (the db::Writer thread commits in groups):
//
//   worker: Prepare TBS + lint ──► queue: Reserve (policy + pending intent) ──COMMIT──►
//   worker: Sign the recorded TBS, check it ──► queue: Complete (certificate row + event)
//   ──COMMIT──► worker: reply 200 with the certificate.
//
//   Reserve may answer instead: kAlreadyIssued (same key retry: the committed certificate),
//   kResume (a pending intent of an earlier, interrupted attempt with this key: sign ITS TBS and
//   complete it, once Issuer::CheckPrepared has found that TBS identical to what we would build
//   now for this device, key and profile; else kIntentMismatch, nothing signed),
//   kBootstrapExhausted, kKeyReuse, kDeviceEnrolled (or, for a device with a re-bootstrap grant,
//   kRebootstrapGrantExpired / kRebootstrapGrantSpent / kRebootstrapKeyNotNew, or the grant is
//   spent and the issuance goes on), and kDeviceBlocked / kAuthRevoked /
//   kAuthDenylisted: the status of the device and of the certificate it authenticated with is
//   checked again in Reserve's transaction, so a revocation, block or denylisting committed
//   after the handshake refuses the next request on an already open connection. A failure after
//   Reserve (signing, Complete) leaves the intent pending (revocable, and listed by
//   PendingIntents); the device gets 5xx and no certificate.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ca/csr.h"
#include "ca/issuer.h"
#include "ca/rng.h"
#include "ca/server_key.h"
#include "daemon/authority/device_name.h"
#include "daemon/authority/peer.h"
#include "daemon/authority/policy.h"
#include "daemon/authority/rate_limiter.h"
#include "daemon/authority/time_source.h"
#include "db/issuance_queue.h"
#include "db/store_reader.h"

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
  kDeviceBlocked,         // an operator blocked this device id (provisiond block)
  kAuthRevoked,           // reenroll: the presented certificate is revoked (checked at Reserve)
  kAuthDenylisted,        // enroll: the presented bootstrap certificate is denylisted (ditto)
  kRateLimited,           // `retry_after` seconds
  kStoreUnavailable,      // busy, full, I/O, the writer's queue is full, or the handshake's
                          // status check found the store unavailable: try again later
  kStoreFailed,           // the record could not be written: nothing issued
  kCaKeyUnavailable,      // the CA key (its token) is out of reach: nothing signed, try again
  kInternal,
  kIntentMismatch,        // a pending intent to resume is not what we would issue now: not signed
  kProfileNotAllowed,     // the bootstrap chain's trust anchor is not allowed for this profile
  kProfileMismatch,       // renewal under another profile than the certificate was issued under
  kDeviceEnrolled,        // this device id already enrolled (with another bootstrap certificate)
  kRebootstrapGrantExpired,  // the device's re-bootstrap grant expired before it was used
  kRebootstrapGrantSpent,    // the device's re-bootstrap grant was already used
  kRebootstrapKeyNotNew,     // under a re-bootstrap grant: the key was certified for it before
  kNotInManifest,         // --require-manifest: the bootstrap certificate is in no manifest
  kManifestMismatch,      // --require-manifest: its manifest row names another device id
  kServerKeygenNeedsTls13,  // serverkeygen over TLS 1.2: a private key travels only over TLS 1.3
  kServerKeygenFailed,      // serverkeygen: the key could not be generated (nothing reserved)
};

struct EnrollRequest {
  bool reenroll = false;
  std::string endpoint;  // for the event row: "simpleenroll", "line-a/simplereenroll"
  const ca::Profile* profile = nullptr;  // owned by the config
  std::string label;                     // "" for the default profile
  // The label's allow rule, owned by the config. Null: any trusted CA for the default profile
  // (label ""), nobody for a labelled one (a label without a configured rule).
  const ProfileRule* rule = nullptr;
  std::string content_type;
  std::string body;
  PeerIdentity peer;  // a copy: the connection may be gone before the issuance finishes
  std::string peer_address;
  // serverkeygen (RFC 7030 §4.4): an enrollment (the simpleenroll rules) whose CSR's key and
  // signature are ignored; the certificate certifies a key generated here, returned in
  // EnrollResult::server_key and recorded as such (event reason "issued_server_key").
  bool server_keygen = false;
};

struct EnrollResult {
  EnrollCode code = EnrollCode::kInternal;
  std::string detail;          // for the journal only
  ca::Code csr_error = ca::Code::kMalformed;
  int retry_after = 0;
  base::Bytes der;             // kIssued / kAlreadyIssued
  std::string serial_hex;
  std::string device_id;       // DeviceName::qualified once known, else ""
  // kIssued by serverkeygen: the private key the certificate certifies (never stored, logged or
  // written; its pages are undumped and zeroed when the last owner drops it).
  std::shared_ptr<const ca::ServerKey> server_key;
};

// Shared by all workers; thread-safe.
struct EnrollShared {
  // The authority's part of the config in force (the daemon's ServeConfig is one). A SIGHUP
  // reload swaps the pointer; the Server keeps every config alive until it is destroyed, so a
  // reference taken from config() stays valid for a whole request.
  const AuthorityConfig& config() const { return *current_config.load(std::memory_order_acquire); }
  std::atomic<const AuthorityConfig*> current_config;
  db::IssuanceQueue& queue;  // db::Writer in the daemon
  const TimeSource& clock;  // TimeSource::System() in the daemon
  RateLimiter device_limiter;
  RateLimiter address_limiter;
};

using EnrollDone = std::function<void(EnrollResult)>;

// Runs a closure later on the Enroller's own thread; called from the queue's thread (the
// db::Writer's) with each commit's result, so it must be thread-safe and quick. The daemon posts
// to the worker's PostQueue (an eventfd in its epoll loop); tests queue and drain by hand. The
// queue's callbacks hold their own copy, so they touch nothing of the Enroller on the queue's
// thread; the closures they post use the Enroller, so they must not run after it is gone.
using Executor = std::function<void(std::function<void()>)>;

// One per worker: uses the worker's issuer and RNG, and `executor` to come back to the worker
// thread after each commit.
class Enroller {
 public:
  // reader: the worker's own read connection (renewal looks up the presented certificate);
  // read-only, so every write goes through shared.queue.
  Enroller(EnrollShared& shared, ca::Issuer& issuer, ca::Rng rng, Executor executor,
           db::StoreReader& reader)
      : shared_(shared),
        issuer_(&issuer),
        rng_(rng),
        executor_(std::move(executor)),
        reader_(reader) {}
  // Returns the result when it is decided at once (a refusal before any write). Otherwise
  // returns nullopt and calls `done` exactly once, later, on this worker's thread.
  std::optional<EnrollResult> Enroll(const EnrollRequest& request, EnrollDone done);
  // The issuer new attempts use from now on, and its CA generation (recorded with each
  // certificate); attempts already under way finish with the one they started with. `issuer`
  // must outlive every attempt that uses it (est::Service keeps each one it was given).
  // `previous` (nullptr: none) is the generation the last activation replaced while it is still
  // trusted: a pending intent reserved under it before the activation is signed by it (Resume).
  void SetIssuer(ca::Issuer& issuer, int64_t ca_gen, ca::Issuer* previous = nullptr,
                 int64_t previous_gen = 0) {
    issuer_ = &issuer;
    ca_gen_ = ca_gen;
    previous_issuer_ = previous;
    previous_gen_ = previous_gen;
  }

  struct Attempt;  // one issuance in flight (enrollment.cc)

 private:
  EnrollResult CheckRequest(const EnrollRequest& request, ca::CheckedCsr* csr, DeviceName* name);
  EnrollResult CheckPeer(const EnrollRequest& request, const ca::Result<DeviceName>& named);
  EnrollResult CheckCsr(const EnrollRequest& request, const AuthorityConfig& config,
                        ca::CheckedCsr* csr);
  EnrollResult CheckKey(const EnrollRequest& request, const Policy& policy,
                        const ca::CheckedCsr& csr);
  EnrollResult CheckRenewal(const EnrollRequest& request, const DeviceName& name);
  EnrollResult CheckManifest(const EnrollRequest& request, const DeviceName& name);
  std::optional<EnrollResult> Reserve(std::shared_ptr<Attempt> attempt);
  void OnReserved(std::shared_ptr<Attempt> attempt, db::Result<db::IssueOutcome> outcome);
  // The endpoint's profile with the device's identity scope and generation gen's CRL URLs.
  static ca::Profile ScopedProfile(const Attempt& attempt, int64_t gen);
  ca::Result<void> CheckIntent(const Attempt& attempt, const ca::Issuer& issuer, int64_t gen,
                               const db::Intent& intent);
  void Resume(std::shared_ptr<Attempt> attempt, const db::Intent& intent);
  void SignAndComplete(std::shared_ptr<Attempt> attempt, const db::Intent& intent);
  void OnCompleted(std::shared_ptr<Attempt> attempt, const std::string& serial_hex,
                   db::Result<void> done);

  EnrollShared& shared_;
  ca::Issuer* issuer_;
  int64_t ca_gen_ = 1;
  ca::Issuer* previous_issuer_ = nullptr;
  int64_t previous_gen_ = 0;
  ca::Rng rng_;
  Executor executor_;
  db::StoreReader& reader_;
};

// Short name for logs and event reasons, e.g. "bootstrap_exhausted".
const char* EnrollCodeName(EnrollCode code);

}  // namespace provisiond
