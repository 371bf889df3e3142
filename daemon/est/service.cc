// service.cc — EST routes and the enrollment decision (see service.h).
#include "daemon/est/service.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include "ca/csr.h"
#include "ca/csrattrs.h"
#include "ca/encoding.h"
#include "ca/pkcs7.h"
#include "daemon/log.h"

namespace provisiond::est {
namespace {

constexpr std::string_view kPrefix = "/.well-known/est/";
constexpr const char* kCertsOnly = "application/pkcs7-mime; smime-type=certs-only";
constexpr int kSerialAttempts = 3;

// One enrollment attempt's result: the status and fixed reason the device sees, and the detail
// that only goes to the journal.
struct Outcome {
  int status;
  std::string reason;
  std::string detail;
};

Outcome FromCaError(const ca::Error& e) {
  switch (e.code) {
    case ca::Code::kMalformed: return {400, "malformed CSR", e.detail};
    case ca::Code::kUnsupportedKey:
      return {400, "unsupported key type " + e.detail + "; EC P-256 required", e.detail};
    case ca::Code::kUnsupportedAlg:
      return {400, "unsupported CSR signature algorithm; ecdsa-with-SHA256 required", e.detail};
    case ca::Code::kBadSignature:
      return {400, "CSR signature does not verify (no proof of possession)", e.detail};
    case ca::Code::kIdentityMismatch:
      return {403, "CSR subject names a different device than the client certificate", e.detail};
    case ca::Code::kPolicy: return {403, "device identity not acceptable", e.detail};
    default: return {500, "internal error", e.detail};
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "application/pkcs10; charset=x" -> "application/pkcs10"
std::string MediaType(std::string_view content_type) {
  std::string t = Lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  size_t start = t.find_first_not_of(" \t");
  return start == std::string::npos ? std::string() : t.substr(start);
}

http::Response Base64Body(const std::string& content_type, std::string body) {
  http::Response r;
  r.content_type = content_type;
  r.body = std::move(body);
  r.extra_headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

std::string Now() { return ca::Iso8601(static_cast<ca::UnixTime>(std::time(nullptr))); }

}  // namespace

struct Service::Route {
  std::string label;  // "" for the default profile
  std::string op;     // cacerts | csrattrs | simpleenroll | simplereenroll
  const ca::Profile* profile = nullptr;
};

Service::Service(const ServeConfig& config, std::unique_ptr<ca::Issuer> issuer,
                 db::Store& store, ca::Rng rng)
    : config_(config), issuer_(std::move(issuer)), store_(store), rng_(rng) {
  std::vector<ca::Bytes> chain{issuer_->ca_cert_der()};
  cacerts_body_ = ca::Base64Encode(ca::CertsOnlyPkcs7(chain), true);
  csrattrs_body_ = ca::Base64Encode(ca::CsrAttrsP256(), true);
}

http::Response Service::Handle(const http::Request& request, const tls::PeerIdentity& peer,
                               const std::string& peer_address) {
  std::string_view target = request.target;
  target = target.substr(0, target.find('?'));
  if (!target.starts_with(kPrefix)) return http::TextResponse(404, "not an EST path");
  std::string_view rest = target.substr(kPrefix.size());
  Route route;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    route.label = std::string(rest.substr(0, slash));
    route.op = std::string(rest.substr(slash + 1));
    auto it = config_.labeled_profiles.find(route.label);
    if (it == config_.labeled_profiles.end()) return http::TextResponse(404, "unknown EST label");
    route.profile = &it->second;
  } else {
    route.op = std::string(rest);
    route.profile = &config_.default_profile;
  }

  const bool is_get = request.method == "GET";
  if (route.op == "cacerts" || route.op == "csrattrs") {
    if (!is_get) {
      auto r = http::TextResponse(405, "method not allowed; use GET");
      r.extra_headers.emplace_back("Allow", "GET");
      return r;
    }
    if (route.op == "cacerts") return Base64Body("application/pkcs7-mime", cacerts_body_);
    return Base64Body("application/csrattrs", csrattrs_body_);
  }
  if (route.op == "simpleenroll" || route.op == "simplereenroll") {
    if (request.method != "POST") {
      auto r = http::TextResponse(405, "method not allowed; use POST");
      r.extra_headers.emplace_back("Allow", "POST");
      return r;
    }
    return Enroll(route, request, peer, peer_address);
  }
  return http::TextResponse(404, "EST operation not supported");
}

http::Response Service::Enroll(const Route& route, const http::Request& request,
                               const tls::PeerIdentity& peer, const std::string& peer_address) {
  const bool reenroll = route.op == "simplereenroll";
  db::EventRecord event;
  event.time = Now();
  event.peer = peer_address;
  event.endpoint = route.label.empty() ? route.op : route.label + "/" + route.op;
  event.device_id = peer.device_id;
  if (peer.cert) {
    event.presented_fingerprint = peer.cert->fingerprint;
    event.presented_subject = peer.cert->subject;
  }

  auto refuse = [&](Outcome o) {
    event.outcome = o.status >= 500 ? "error" : "rejected";
    event.http_status = o.status;
    event.reason = o.reason;
    Log(o.status >= 500 ? Priority::kErr : Priority::kWarning, "enroll_refused",
        {{"endpoint", event.endpoint}, {"status", std::to_string(o.status)},
         {"reason", o.reason}, {"detail", o.detail}, {"peer", peer_address},
         {"device_id", peer.device_id}, {"subject", event.presented_subject},
         {"auth", tls::AuthKindName(peer.kind)}});
    if (auto r = store_.RecordEvent(event); !r) {
      Log(Priority::kErr, "event_not_recorded", {{"detail", r.error().detail}});
    }
    auto resp = http::TextResponse(o.status, o.reason);
    if (o.status == 503) {
      resp.extra_headers.emplace_back("Retry-After", std::to_string(config_.retry_after_seconds));
    }
    return resp;
  };

  // Who may call what: a bootstrap certificate enrolls once, an operational certificate renews.
  if (peer.kind == tls::AuthKind::kNone) {
    return refuse({401, "client certificate required for enrollment", "no client certificate"});
  }
  if (!reenroll && peer.kind == tls::AuthKind::kOperational) {
    return refuse({403, "simpleenroll needs a bootstrap certificate; renew with simplereenroll",
                   "operational certificate presented to simpleenroll"});
  }
  if (reenroll && peer.kind == tls::AuthKind::kBootstrap) {
    return refuse({403, "simplereenroll needs the current operational certificate",
                   "bootstrap certificate presented to simplereenroll"});
  }
  if (peer.device_id.empty()) {
    return refuse({403, "client certificate names no acceptable device identity",
                   peer.identity_error});
  }
  if (MediaType(request.Header("content-type").value_or("")) != "application/pkcs10") {
    return refuse({415, "Content-Type must be application/pkcs10", "content type"});
  }
  auto der = ca::Base64Decode(request.body, ca::kMaxCsrDer);
  if (!der) return refuse({400, "request body is not valid base64", der.error().detail});
  auto csr = ca::CheckCsr(*der);
  if (!csr) return refuse(FromCaError(csr.error()));
  // Operational certificates carry the id in CN (we issued them), so their CSR is checked there.
  auto source = reenroll ? ca::IdentitySource::kCommonName : config_.identity;
  if (auto ok = ca::CheckCsrIdentity(*csr, peer.device_id, source); !ok) {
    return refuse(FromCaError(ok.error()));
  }

  db::CertificateRecord rec;
  for (int attempt = 1;; ++attempt) {
    auto issued = issuer_->Issue(peer.device_id, csr->public_key_der, *route.profile,
                                 static_cast<ca::UnixTime>(std::time(nullptr)), rng_);
    if (!issued) return refuse(FromCaError(issued.error()));
    rec = db::CertificateRecord{
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
        .kind = reenroll ? "reenroll" : "enroll",
        .peer = peer_address,
        .issued_at = Now(),
    };
    event.outcome = "issued";
    event.http_status = 200;
    event.reason = "issued";
    event.serial_hex = rec.serial_hex;
    // The row commits (synchronous=FULL) before a single byte of the certificate is sent.
    auto stored = store_.RecordIssuance(rec, event);
    if (stored) break;
    if (stored.error().code == db::Code::kDuplicateSerial && attempt < kSerialAttempts) continue;
    event.serial_hex.clear();
    const bool transient = stored.error().code == db::Code::kBusy ||
                           stored.error().code == db::Code::kFull ||
                           stored.error().code == db::Code::kIo;
    return refuse({transient ? 503 : 500,
                   transient ? "certificate store unavailable; retry later"
                             : "certificate could not be recorded; nothing was issued",
                   stored.error().detail});
  }
  Log(Priority::kNotice, "issued",
      {{"serial", rec.serial_hex}, {"device_id", rec.device_id}, {"kind", rec.kind},
       {"peer", peer_address}, {"not_after", rec.not_after}, {"endpoint", event.endpoint}});
  std::vector<ca::Bytes> certs{rec.der};
  return Base64Body(kCertsOnly, ca::Base64Encode(ca::CertsOnlyPkcs7(certs), true));
}

}  // namespace provisiond::est
