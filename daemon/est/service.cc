// service.cc — EST routes and the mapping of the authority's outcomes to HTTP (see service.h).
#include "daemon/est/service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <optional>

#include "ca/csr.h"
#include "ca/csrattrs_response.h"
#include "ca/encoding.h"
#include "ca/pkcs7.h"
#include "daemon/est/serverkeygen_reply.h"
#include "daemon/events.h"
#include "daemon/flood_budget.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/retry_after.h"

namespace provisiond::est {
namespace {

constexpr std::string_view kPrefix = "/.well-known/est/";
constexpr const char* kCertsOnly = "application/pkcs7-mime; smime-type=certs-only";

// What the device sees for each refusal: a status and a fixed one-line reason. The detail stays
// in the journal.
struct Answer {
  int status;
  std::string reason;
};

Answer CsrAnswer(const EnrollResult& r) {
  switch (r.csr_error) {
    // Names the key type ("CSR key is RSA 2048, need EC P-256"): our text, not the device's.
    case ca::Code::kUnsupportedKey: return {400, r.detail};
    case ca::Code::kUnsupportedAlg:
      return {400, "unsupported CSR signature algorithm; ecdsa-with-SHA256 required"};
    case ca::Code::kBadSignature:
      return {400, "CSR signature does not verify (no proof of possession)"};
    case ca::Code::kIdentityMismatch:
      return {403, "CSR subject names a different device than the client certificate"};
    default: return {400, "malformed CSR"};
  }
}

Answer AnswerFor(const EnrollResult& r) {
  switch (r.code) {
    case EnrollCode::kIssued:
    case EnrollCode::kAlreadyIssued: return {200, "issued"};
    case EnrollCode::kNoClientCertificate:
      return {401, "client certificate required for enrollment"};
    case EnrollCode::kNeedsBootstrap:
      return {403, "simpleenroll needs a bootstrap certificate; renew with simplereenroll"};
    case EnrollCode::kNeedsOperational:
      return {403, "simplereenroll needs the current operational certificate"};
    case EnrollCode::kNoDeviceId:
      return {403, "client certificate names no acceptable device identity"};
    case EnrollCode::kBadContentType: return {415, "Content-Type must be application/pkcs10"};
    case EnrollCode::kBadBase64: return {400, "request body is not valid base64"};
    case EnrollCode::kBadCsr: return CsrAnswer(r);
    case EnrollCode::kChannelBinding:
      return {400, "proof of possession: challengePassword does not match this TLS connection"};
    case EnrollCode::kKeyReuse: return {403, "key reuse: this public key is not acceptable"};
    case EnrollCode::kSameKeyRenewal: return {403, "re-enrollment requires a new key"};
    case EnrollCode::kTooEarly: return {403, "too early to renew; renewal opens " + r.detail};
    case EnrollCode::kBootstrapExhausted:
      return {403, "bootstrap certificate already used to obtain a certificate"};
    case EnrollCode::kDeviceBlocked: return {403, "this device is blocked by the operator"};
    case EnrollCode::kAuthRevoked: return {403, "the client certificate has been revoked"};
    case EnrollCode::kAuthDenylisted:
      return {403, "the bootstrap certificate has been denylisted"};
    case EnrollCode::kRateLimited: return {429, "too many requests; retry later"};
    case EnrollCode::kStoreUnavailable: return {503, "certificate store unavailable; retry later"};
    case EnrollCode::kStoreFailed:
      return {500, "certificate could not be recorded; nothing was issued"};
    case EnrollCode::kCaKeyUnavailable: return {503, "CA key unavailable; retry later"};
    case EnrollCode::kInternal: return {500, "internal error"};
    case EnrollCode::kIntentMismatch:
      return {500, "pending issuance record does not match this enrollment; nothing was issued"};
    case EnrollCode::kProfileNotAllowed:
      return {403, "this manufacturer CA may not enroll under this profile"};
    case EnrollCode::kProfileMismatch:
      return {403, "renewal must use the profile the certificate was issued under"};
    case EnrollCode::kDeviceEnrolled:
      return {403, "device id already enrolled with another bootstrap certificate"};
    case EnrollCode::kRebootstrapGrantExpired:
      return {403, "re-bootstrap grant for this device has expired"};
    case EnrollCode::kRebootstrapGrantSpent:
      return {403, "re-bootstrap grant for this device was already used"};
    case EnrollCode::kRebootstrapKeyNotNew:
      return {403, "re-bootstrap requires a key never certified for this device"};
    case EnrollCode::kNotInManifest:
      return {403, "bootstrap certificate is in no factory manifest"};
    case EnrollCode::kManifestMismatch:
      return {403, "bootstrap certificate is listed in a factory manifest for another device id"};
    case EnrollCode::kServerKeygenNeedsTls13:
      return {403, "serverkeygen requires TLS 1.3; the private key is not sent over TLS 1.2"};
    case EnrollCode::kServerKeygenFailed:
      return {500, "server-side key generation failed; nothing was issued"};
  }
  return {500, "internal error"};
}

http::Response Base64Body(const std::string& content_type, std::string body) {
  http::Response r;
  r.content_type = content_type;
  r.body = std::move(body);
  r.extra_headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

// RFC 7030 §4.4.2: the key and the certificate as multipart/mixed, the body in undumped pages
// (the connection zeroes them once sent). The boundary holds '_', outside the base64 alphabet.
http::Response ServerKeygenResponse(const ca::ServerKey& key, const std::vector<base::Bytes>& certs,
                                    const std::string& serial_hex) {
  auto reply = BuildServerKeygenReply(key.pkcs8_der, ca::CertsOnlyPkcs7(certs),
                                      "est-serverkeygen_" + serial_hex);
  if (!reply) {
    Log(Priority::kErr, "serverkeygen_reply_failed",
        {{"serial", serial_hex}, {"detail", reply.error().detail}});
    return http::TextResponse(500, "internal error");
  }
  http::Response r;
  r.content_type = std::move(reply->content_type);
  r.secret_body = std::make_shared<base::SecretBuffer>(std::move(reply->body));
  return r;
}

http::Response ResponseFor(const EnrollResult& result, const Answer& answer, int default_retry) {
  if (answer.status != 200) {
    auto resp = http::TextResponse(answer.status, answer.reason);
    if (answer.status == 503 || answer.status == 429) {
      // Jittered (retry_after.h): a wave refused together must not come back together.
      const double u = RetryJitterUniform();
      const int after = result.retry_after > 0 ? JitteredRateLimitWait(result.retry_after, u)
                                               : JitteredRetryAfter(default_retry, u);
      resp.extra_headers.emplace_back("Retry-After", std::to_string(after));
    }
    return resp;
  }
  std::vector<base::Bytes> certs{result.der};
  if (result.server_key) return ServerKeygenResponse(*result.server_key, certs, result.serial_hex);
  return Base64Body(kCertsOnly, ca::Base64Encode(ca::CertsOnlyPkcs7(certs), true));
}

std::string Now() { return ca::Iso8601(static_cast<base::UnixTime>(std::time(nullptr))); }

}  // namespace

struct Service::Route {
  std::string label;  // "" for the default profile
  std::string op;     // cacerts | csrattrs | simpleenroll | simplereenroll | serverkeygen
  const ca::Profile* profile = nullptr;
  const ProfileRule* rule = nullptr;  // the label's configured rule, if any (the room decides)
};

Service::Service(const std::atomic<const ServeConfig*>& config, EnrollShared& shared,
                 std::unique_ptr<ca::Issuer> issuer, ca::Rng rng, PostQueue& inbox,
                 db::StoreReader& reader)
    : config_(config),
      shared_(shared),
      issuer_(std::move(issuer)),
      inbox_(inbox),
      enroller_(shared, *issuer_, rng,
                [&inbox](std::function<void()> fn) { inbox.Post(std::move(fn)); }, reader) {
  std::vector<base::Bytes> chain{issuer_->ca_cert_der()};
  cacerts_body_ = ca::Base64Encode(ca::CertsOnlyPkcs7(chain), true);
  csrattrs_body_ = ca::Base64Encode(ca::CsrAttrsP256(false), true);
  csrattrs_tls13_body_ = ca::Base64Encode(ca::CsrAttrsP256(true), true);
}

void Service::SetCa(std::unique_ptr<ca::Issuer> issuer, int64_t active_gen,
                    const std::vector<base::Bytes>& cacerts, int64_t newest_gen,
                    std::unique_ptr<ca::Issuer> previous, int64_t previous_gen) {
  if (issuer != nullptr) {
    replaced_issuers_.push_back(std::move(issuer_));
    issuer_ = std::move(issuer);
  }
  if (previous_issuer_ != nullptr) replaced_issuers_.push_back(std::move(previous_issuer_));
  previous_issuer_ = std::move(previous);
  enroller_.SetIssuer(*issuer_, active_gen, previous_issuer_.get(), previous_gen);
  cacerts_body_ = ca::Base64Encode(ca::CertsOnlyPkcs7(cacerts), true);
  if (newest_gen != newest_gen_) fetch_recorded_.clear();
  newest_gen_ = newest_gen;
}

// Bounds the per-process memory of who was recorded: past it, a device may be submitted again
// (the store writes nothing for a row it has).
constexpr size_t kMaxFetchesRemembered = 1 << 20;

void Service::RecordFetch(const PeerIdentity& peer) {
  if (newest_gen_ <= 1 || peer.kind != AuthKind::kOperational || peer.device_id.empty()) return;
  if (fetch_recorded_.contains(peer.device_id)) return;
  if (fetch_recorded_.size() >= kMaxFetchesRemembered) fetch_recorded_.clear();
  if (shared_.queue.SubmitCacertsFetch(peer.device_id, newest_gen_,
                                       ca::Iso8601(shared_.clock.Now()), {})) {
    fetch_recorded_.insert(peer.device_id);
  }
}

std::optional<http::Response> Service::Handle(const http::Request& request,
                                              const PeerIdentity& peer,
                                              const std::string& peer_address, Reply later) {
  std::string_view target = request.target;
  target = target.substr(0, target.find('?'));
  if (!target.starts_with(kPrefix)) return http::TextResponse(404, "not an EST path");
  std::string_view rest = target.substr(kPrefix.size());
  Route route;
  const ServeConfig& config = this->config();  // once: a reload may swap it meanwhile
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    route.label = std::string(rest.substr(0, slash));
    route.op = std::string(rest.substr(slash + 1));
    auto it = config.labeled_profiles.find(route.label);
    if (it == config.labeled_profiles.end()) return http::TextResponse(404, "unknown EST label");
    route.profile = &it->second;
    auto rule = config.profile_rules.find(route.label);
    if (rule != config.profile_rules.end()) route.rule = &rule->second;
  } else {
    route.op = std::string(rest);
    route.profile = &config.default_profile;
  }

  const bool is_get = request.method == "GET";
  if (route.op == "cacerts" || route.op == "csrattrs") {
    if (!is_get) {
      auto r = http::TextResponse(405, "method not allowed; use GET");
      r.extra_headers.emplace_back("Allow", "GET");
      return r;
    }
    if (route.op == "cacerts") {
      RecordFetch(peer);
      return Base64Body("application/pkcs7-mime", cacerts_body_);
    }
    return Base64Body("application/csrattrs", peer.tls13 ? csrattrs_tls13_body_ : csrattrs_body_);
  }
  // serverkeygen is an enrollment like simpleenroll; while it is off, an unknown operation.
  const bool keygen = route.op == "serverkeygen" && config.serverkeygen;
  if (route.op == "simpleenroll" || route.op == "simplereenroll" || keygen) {
    if (request.method != "POST") {
      auto r = http::TextResponse(405, "method not allowed; use POST");
      r.extra_headers.emplace_back("Allow", "POST");
      return r;
    }
    return Enroll(route, request, peer, peer_address, std::move(later));
  }
  return http::TextResponse(404, "EST operation not supported");
}

std::optional<http::Response> Service::Enroll(const Route& route, const http::Request& request,
                                              const PeerIdentity& peer,
                                              const std::string& peer_address, Reply later) {
  EnrollRequest req{
      .reenroll = route.op == "simplereenroll",
      .endpoint = route.label.empty() ? route.op : route.label + "/" + route.op,
      .profile = route.profile,
      .label = route.label,
      .rule = route.rule,
      .content_type = std::string(request.Header("content-type").value_or("")),
      .body = request.body,
      .peer = peer,
      .peer_address = peer_address,
      .server_keygen = route.op == "serverkeygen",
  };
  auto summary = std::make_shared<EnrollRequest>(req);
  summary->body.clear();
  const auto start = std::chrono::steady_clock::now();
  auto now = enroller_.Enroll(req, [this, summary, start, later](EnrollResult r) {
    if (auto resp = Finish(*summary, r, start, later)) later(std::move(*resp));
  });
  if (now) return Finish(req, *now, start, std::move(later));
  return std::nullopt;
}

// Every outcome but a fresh issuance (whose event committed with the certificate) is recorded
// first and answered once the event row is committed, so an operator who hears from a device
// finds its row. Returns the response if it is to be sent now, else nullopt (`later` gets it).
std::optional<http::Response> Service::Finish(const EnrollRequest& req, const EnrollResult& result,
                                              std::chrono::steady_clock::time_point start,
                                              Reply later) {
  GlobalMetrics().enrollments.Inc(EnrollCodeName(result.code));
  GlobalMetrics().enrollment_seconds.Observe(std::chrono::steady_clock::now() - start);
  const PeerIdentity& peer = req.peer;
  const std::string& peer_address = req.peer_address;
  Answer answer = AnswerFor(result);
  const std::string subject = peer.cert ? peer.cert->subject : "";
  const std::string& device_id = result.device_id.empty() ? peer.device_id : result.device_id;
  if (result.code == EnrollCode::kIssued) {
    // The issued event was committed with the certificate, in the same transaction.
    Log(Priority::kNotice, "issued",
        {{"serial", result.serial_hex}, {"device_id", device_id},
         {"kind", req.reenroll ? "reenroll" : req.server_keygen ? "serverkeygen" : "enroll"},
         {"peer", peer_address},
         {"endpoint", req.endpoint}});
  } else if (peer.kind == AuthKind::kNone &&
             !UnauthenticatedBudget().Admit(/*row=*/true)) {
    // No certificate (--client-auth optional): counted, not recorded one by one.
  } else {
    const bool ok = result.code == EnrollCode::kAlreadyIssued;
    Log(ok ? Priority::kNotice : answer.status >= 500 ? Priority::kErr : Priority::kWarning,
        ok ? "reissued" : "enroll_refused",
        {{"endpoint", req.endpoint}, {"status", std::to_string(answer.status)},
         {"outcome", EnrollCodeName(result.code)}, {"reason", answer.reason},
         {"detail", result.detail}, {"peer", peer_address}, {"device_id", device_id},
         {"subject", subject}, {"serial", result.serial_hex},
         {"auth", AuthKindName(peer.kind)}});
    db::EventRecord event{
        .time = Now(),
        .peer = peer_address,
        .presented_fingerprint = peer.cert ? peer.cert->fingerprint : "",
        .presented_subject = subject,
        .device_id = device_id,
        .endpoint = req.endpoint,
        .outcome = ok ? "already_issued" : answer.status >= 500 ? "error" : "rejected",
        .http_status = answer.status,
        .reason = ok ? std::string(EnrollCodeName(result.code))
                     : std::string(EnrollCodeName(result.code)) + ": " + answer.reason,
    };
    auto resp =
        std::make_shared<http::Response>(ResponseFor(result, answer, config().retry_after_seconds));
    PostQueue& inbox = inbox_;
    const bool queued = shared_.queue.SubmitEvent(
        std::move(event), [&inbox, resp, later](db::Result<void> r) {
          if (!r) Log(Priority::kErr, "event_not_recorded", {{"detail", r.error().detail}});
          inbox.Post([resp, later] { later(std::move(*resp)); });
        });
    if (queued) return std::nullopt;
    Log(Priority::kErr, "event_not_recorded", {{"detail", "writer queue full"}});
    return std::move(*resp);
  }
  return ResponseFor(result, answer, config().retry_after_seconds);
}

}  // namespace provisiond::est
