// enrollment.cc — the enrollment decision and durable issuance (see enrollment.h).
#include "daemon/enrollment.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "ca/csr.h"
#include "ca/encoding.h"

namespace provisiond {
namespace {

EnrollResult Refuse(EnrollCode code, std::string detail) {
  EnrollResult r;
  r.code = code;
  r.detail = std::move(detail);
  return r;
}

// "application/pkcs10; charset=x" -> "application/pkcs10"
std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t") + 1);
  return t;
}

ca::UnixTime Now() { return static_cast<ca::UnixTime>(std::time(nullptr)); }

EnrollResult FromStoreError(const db::Error& e) {
  const bool transient =
      e.code == db::Code::kBusy || e.code == db::Code::kFull || e.code == db::Code::kIo;
  return Refuse(transient ? EnrollCode::kStoreUnavailable : EnrollCode::kStoreFailed, e.detail);
}

}  // namespace

const char* EnrollCodeName(EnrollCode code) {
  switch (code) {
    case EnrollCode::kIssued: return "issued";
    case EnrollCode::kAlreadyIssued: return "already_issued";
    case EnrollCode::kNoClientCertificate: return "no_client_certificate";
    case EnrollCode::kNeedsBootstrap: return "needs_bootstrap";
    case EnrollCode::kNeedsOperational: return "needs_operational";
    case EnrollCode::kNoDeviceId: return "no_device_id";
    case EnrollCode::kBadContentType: return "bad_content_type";
    case EnrollCode::kBadBase64: return "bad_base64";
    case EnrollCode::kBadCsr: return "bad_csr";
    case EnrollCode::kChannelBinding: return "channel_binding";
    case EnrollCode::kKeyReuse: return "key_reuse";
    case EnrollCode::kSameKeyRenewal: return "same_key_renewal";
    case EnrollCode::kTooEarly: return "too_early";
    case EnrollCode::kBootstrapExhausted: return "bootstrap_exhausted";
    case EnrollCode::kRateLimited: return "rate_limited";
    case EnrollCode::kStoreUnavailable: return "store_unavailable";
    case EnrollCode::kStoreFailed: return "store_failed";
    case EnrollCode::kInternal: return "internal";
  }
  return "internal";
}

// Everything that can be decided without the database. On success returns kIssued (meaning
// "go on") and fills *csr.
EnrollResult Enroller::CheckRequest(const EnrollRequest& req, ca::CheckedCsr* csr) {
  const tls::PeerIdentity& peer = *req.peer;
  const Policy& policy = shared_.config.policy;
  if (peer.kind == tls::AuthKind::kNone) {
    return Refuse(EnrollCode::kNoClientCertificate, "no client certificate");
  }
  if (auto wait = shared_.address_limiter.Take(req.peer_address.substr(
          0, req.peer_address.rfind(':')))) {
    auto r = Refuse(EnrollCode::kRateLimited, "source address over its rate limit");
    r.retry_after = *wait;
    return r;
  }
  if (auto wait = shared_.device_limiter.Take(peer.cert->fingerprint)) {
    auto r = Refuse(EnrollCode::kRateLimited, "client certificate over its rate limit");
    r.retry_after = *wait;
    return r;
  }
  if (!req.reenroll && peer.kind == tls::AuthKind::kOperational) {
    return Refuse(EnrollCode::kNeedsBootstrap, "operational certificate presented to simpleenroll");
  }
  if (req.reenroll && peer.kind == tls::AuthKind::kBootstrap) {
    return Refuse(EnrollCode::kNeedsOperational,
                  "bootstrap certificate presented to simplereenroll");
  }
  if (peer.device_id.empty()) return Refuse(EnrollCode::kNoDeviceId, peer.identity_error);
  if (MediaType(req.content_type) != "application/pkcs10") {
    return Refuse(EnrollCode::kBadContentType, "Content-Type: " + req.content_type);
  }
  auto der = ca::Base64Decode(req.body, ca::kMaxCsrDer);
  if (!der) return Refuse(EnrollCode::kBadBase64, der.error().detail);
  auto checked = ca::CheckCsr(*der);
  if (!checked) {
    auto r = Refuse(EnrollCode::kBadCsr, checked.error().detail);
    r.csr_error = checked.error().code;
    return r;
  }
  // Operational certificates carry the id in CN (we issued them), so their CSR is checked there.
  auto source = req.reenroll ? ca::IdentitySource::kCommonName : shared_.config.identity;
  if (auto ok = ca::CheckCsrIdentity(*checked, peer.device_id, source); !ok) {
    auto r = Refuse(EnrollCode::kBadCsr, ok.error().detail);
    r.csr_error = ok.error().code;
    return r;
  }
  if (checked->challenge_password) {
    if (!peer.tls13 || peer.channel_binding.empty()) {
      return Refuse(EnrollCode::kChannelBinding, "challengePassword sent over TLS 1.2");
    }
    if (*checked->challenge_password != peer.channel_binding) {
      return Refuse(EnrollCode::kChannelBinding, "challengePassword != tls-exporter value");
    }
  }
  const bool same_key = checked->public_key_der == peer.cert->public_key_der;
  if (same_key && !req.reenroll) {
    return Refuse(EnrollCode::kKeyReuse, "CSR key is the bootstrap certificate's key");
  }
  if (same_key && !policy.reenroll_same_key) {
    return Refuse(EnrollCode::kSameKeyRenewal, "CSR key is the current certificate's key");
  }
  if (req.reenroll && policy.renew_before > 0 &&
      Now() < peer.cert->not_after - policy.renew_before) {
    return Refuse(EnrollCode::kTooEarly, ca::Iso8601(peer.cert->not_after - policy.renew_before));
  }
  *csr = std::move(*checked);
  return Refuse(EnrollCode::kIssued, "");
}

EnrollResult Enroller::Enroll(const EnrollRequest& req) {
  ca::CheckedCsr csr;
  EnrollResult checked = CheckRequest(req, &csr);
  if (checked.code != EnrollCode::kIssued) return checked;
  const tls::PeerIdentity& peer = *req.peer;
  db::EventRecord event{
      .time = ca::Iso8601(Now()),
      .peer = req.peer_address,
      .presented_fingerprint = peer.cert->fingerprint,
      .presented_subject = peer.cert->subject,
      .device_id = peer.device_id,
      .endpoint = req.endpoint,
      .outcome = "issued",
      .http_status = 200,
      .reason = "issued",
  };
  return IssueAndRecord(req, csr, std::move(event));
}

EnrollResult Enroller::IssueAndRecord(const EnrollRequest& req, const ca::CheckedCsr& csr,
                                      db::EventRecord event) {
  constexpr int kSerialAttempts = 3;
  const tls::PeerIdentity& peer = *req.peer;
  const db::IssuancePolicy policy{.max_per_bootstrap =
                                      shared_.config.policy.bootstrap_max_enrollments};
  for (int attempt = 1;; ++attempt) {
    auto issued = issuer_.Issue(peer.device_id, csr.public_key_der, *req.profile, Now(), rng_);
    if (!issued) return Refuse(EnrollCode::kInternal, issued.error().detail);
    db::CertificateRecord rec{
        .serial_hex = issued->serial_hex,
        .device_id = peer.device_id,
        .subject = issued->subject,
        .san = issued->san,
        .not_before = ca::Iso8601(issued->not_before),
        .not_after = ca::Iso8601(issued->not_after),
        .der = issued->der,
        .fingerprint_sha256 = issued->fingerprint_sha256,
        .public_key_sha256 = issued->public_key_sha256,
        .auth_cert_issuer = peer.cert->issuer,
        .auth_cert_serial = peer.cert->serial_hex,
        .auth_cert_fingerprint = peer.cert->fingerprint,
        .kind = req.reenroll ? "reenroll" : "enroll",
        .peer = req.peer_address,
        .issued_at = event.time,
    };
    event.serial_hex = rec.serial_hex;
    // Decision and insert in one transaction, committed (synchronous=FULL) before any reply.
    auto outcome = shared_.store.IssueUnderPolicy(rec, event, policy);
    if (!outcome) {
      if (outcome.error().code == db::Code::kDuplicateSerial && attempt < kSerialAttempts) continue;
      return FromStoreError(outcome.error());
    }
    EnrollResult r;
    switch (outcome->decision) {
      case db::Decision::kIssued:
        r.code = EnrollCode::kIssued;
        r.der = std::move(rec.der);
        r.serial_hex = rec.serial_hex;
        return r;
      case db::Decision::kAlreadyIssued:
        r.code = EnrollCode::kAlreadyIssued;
        r.der = outcome->existing->der;
        r.serial_hex = outcome->existing->serial_hex;
        r.detail = "retry with the same key";
        return r;
      case db::Decision::kBootstrapExhausted:
        return Refuse(EnrollCode::kBootstrapExhausted,
                      "bootstrap certificate already used with another key: possible clone");
      case db::Decision::kKeyReuse:
        return Refuse(EnrollCode::kKeyReuse, "key already certified for another device");
    }
    return Refuse(EnrollCode::kInternal, "unknown store decision");
  }
}

}  // namespace provisiond
