// enrollment.cc — the enrollment decision and durable issuance (see enrollment.h).
#include "daemon/enrollment.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "ca/cert.h"
#include "ca/csr.h"
#include "ca/encoding.h"
#include "ca/keys.h"

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

base::UnixTime Now() { return static_cast<base::UnixTime>(std::time(nullptr)); }

// How old a pending intent may be and still be resumed: a retry after a crash normally comes
// within minutes; a device offline for longer than a week gets the intent_mismatch refusal and an
// operator revokes the intent (`provisiond revoke --serial`), after which it enrolls afresh.
constexpr base::UnixTime kMaxResumeAge = 7 * 86400;

EnrollResult FromStoreError(const db::Error& e) {
  const bool transient =
      e.code == db::Code::kBusy || e.code == db::Code::kFull || e.code == db::Code::kIo;
  return Refuse(transient ? EnrollCode::kStoreUnavailable : EnrollCode::kStoreFailed, e.detail);
}

// The row for a certificate we signed, from what Sign read back from it (device and auth fields
// empty).
db::CertificateRecord RecordOf(ca::IssuedCert issued) {
  db::CertificateRecord r;
  r.serial_hex = std::move(issued.serial_hex);
  r.subject = std::move(issued.subject);
  r.san = std::move(issued.san);
  r.not_before = ca::Iso8601(issued.not_before);
  r.not_after = ca::Iso8601(issued.not_after);
  r.der = std::move(issued.der);
  r.fingerprint_sha256 = std::move(issued.fingerprint_sha256);
  r.public_key_sha256 = std::move(issued.public_key_sha256);
  return r;
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
    case EnrollCode::kDeviceBlocked: return "device_blocked";
    case EnrollCode::kAuthRevoked: return "auth_revoked";
    case EnrollCode::kAuthDenylisted: return "auth_denylisted";
    case EnrollCode::kRateLimited: return "rate_limited";
    case EnrollCode::kStoreUnavailable: return "store_unavailable";
    case EnrollCode::kStoreFailed: return "store_failed";
    case EnrollCode::kInternal: return "internal";
    case EnrollCode::kIntentMismatch: return "intent_mismatch";
    case EnrollCode::kProfileNotAllowed: return "profile_not_allowed";
    case EnrollCode::kProfileMismatch: return "profile_mismatch";
    case EnrollCode::kDeviceEnrolled: return "device_enrolled";
  }
  return "internal";
}

// Everything that can be decided without the database. On success returns kIssued (meaning
// "go on") and fills *csr.
EnrollResult Enroller::CheckRequest(const EnrollRequest& req, ca::CheckedCsr* csr,
                                    DeviceName* name) {
  const tls::PeerIdentity& peer = req.peer;
  const Policy& policy = shared_.config().policy;
  if (peer.kind == tls::AuthKind::kNone) {
    return Refuse(EnrollCode::kNoClientCertificate, "no client certificate");
  }
  auto named = DeviceNameOf(peer, shared_.config().identity_scope);
  if (named) *name = *named;
  // One bucket per device (whichever of its certificates it presents); a certificate naming no
  // device id still gets its own, so its refusals are limited too.
  const std::string device_key = named ? "device " + named->qualified
                                       : "certificate " + peer.cert->fingerprint;
  if (auto wait = shared_.address_limiter.Take(req.peer_address.substr(
          0, req.peer_address.rfind(':')))) {
    auto r = Refuse(EnrollCode::kRateLimited, "source address over its rate limit");
    r.retry_after = *wait;
    return r;
  }
  if (auto wait = shared_.device_limiter.Take(device_key)) {
    auto r = Refuse(EnrollCode::kRateLimited, "device over its rate limit");
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
  if (!named) return Refuse(EnrollCode::kNoDeviceId, named.error().detail);
  if (!req.reenroll && req.rule != nullptr && !AnchorAllowed(*req.rule, peer)) {
    return Refuse(EnrollCode::kProfileNotAllowed,
                  "trust anchor \"" + peer.anchor_subject + "\" not allowed for " + req.endpoint);
  }
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
  auto source = req.reenroll ? ca::IdentitySource::kCommonName : shared_.config().identity;
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

// Renewal keeps the profile (and the device id) the presented certificate was issued under.
EnrollResult Enroller::CheckRenewal(const EnrollRequest& req, const DeviceName& name) {
  auto found = reader_.FindBySerial(req.peer.cert->serial_hex);
  if (!found) return FromStoreError(found.error());
  if (!*found) return Refuse(EnrollCode::kProfileMismatch, "certificate not in the store");
  if ((*found)->profile != req.label) {
    return Refuse(EnrollCode::kProfileMismatch, "issued under profile \"" + (*found)->profile +
                                                    "\", renewing under \"" + req.label + "\"");
  }
  if ((*found)->device_id != name.qualified) {
    return Refuse(EnrollCode::kNoDeviceId, "certificate names " + name.qualified +
                                               ", its record " + (*found)->device_id);
  }
  return Refuse(EnrollCode::kIssued, "");
}

struct Enroller::Attempt {
  EnrollRequest req;
  DeviceName name;
  ca::CheckedCsr csr;
  EnrollDone done;
  int reservations = 0;  // a duplicate serial (2^-127) is retried with a new one
  ca::PreparedCert prepared;
};

// The endpoint's profile with the device's identity scope: what Prepare builds and what a resumed
// intent is checked against.
ca::Profile Enroller::ScopedProfile(const Attempt& a) {
  ca::Profile profile = *a.req.profile;
  profile.identity_scope = a.name.scope;
  return profile;
}

std::optional<EnrollResult> Enroller::Enroll(const EnrollRequest& req, EnrollDone done) {
  auto attempt = std::make_shared<Attempt>();
  EnrollResult checked = CheckRequest(req, &attempt->csr, &attempt->name);
  if (checked.code == EnrollCode::kIssued && req.reenroll) {
    checked = CheckRenewal(req, attempt->name);
  }
  checked.device_id = attempt->name.qualified;
  if (checked.code != EnrollCode::kIssued) return checked;
  attempt->req = req;
  attempt->req.body.clear();  // decoded already; not kept while waiting for commits
  attempt->done = [done = std::move(done), id = attempt->name.qualified](EnrollResult r) {
    r.device_id = id;
    done(std::move(r));
  };
  return Reserve(std::move(attempt));
}

// Worker thread: build and lint the TBS (no CA key involved), then hand the intent to the writer.
std::optional<EnrollResult> Enroller::Reserve(std::shared_ptr<Attempt> a) {
  const tls::PeerIdentity& peer = a->req.peer;
  auto prepared = issuer_.Prepare(a->name.id, a->csr.public_key_der, ScopedProfile(*a), Now(), rng_);
  if (!prepared) return Refuse(EnrollCode::kInternal, prepared.error().detail);
  a->prepared = std::move(*prepared);
  ++a->reservations;
  db::Intent intent{
      .serial_hex = a->prepared.serial_hex,
      .device_id = a->name.qualified,
      .kind = a->req.reenroll ? "reenroll" : "enroll",
      .public_key_sha256 = a->prepared.public_key_sha256,
      .auth_cert_fingerprint = peer.cert->fingerprint,
      .auth_cert_issuer = peer.cert->issuer,
      .auth_cert_serial = peer.cert->serial_hex,
      .tbs = a->prepared.tbs,
      .not_after = ca::Iso8601(a->prepared.not_after),
      .peer = a->req.peer_address,
      .created_at = ca::Iso8601(Now()),
      .profile = a->req.label,
  };
  const db::IssuancePolicy policy{.max_per_bootstrap =
                                      shared_.config().policy.bootstrap_max_enrollments};
  PostQueue& inbox = inbox_;
  const bool queued = shared_.writer.SubmitReserve(
      std::move(intent), policy, [this, &inbox, a](db::Result<db::IssueOutcome> outcome) {
        // Writer thread: come back to the worker that owns the issuer and the connection.
        inbox.Post([this, a, outcome = std::move(outcome)]() mutable {
          OnReserved(a, std::move(outcome));
        });
      });
  if (!queued) return Refuse(EnrollCode::kStoreUnavailable, "issuance queue full (overload)");
  return std::nullopt;
}

void Enroller::OnReserved(std::shared_ptr<Attempt> a, db::Result<db::IssueOutcome> outcome) {
  if (!outcome) {
    if (outcome.error().code == db::Code::kDuplicateSerial && a->reservations < 3) {
      if (auto r = Reserve(a)) a->done(std::move(*r));
      return;
    }
    return a->done(FromStoreError(outcome.error()));
  }
  EnrollResult r;
  switch (outcome->decision) {
    case db::Decision::kReserved: {
      db::Intent recorded{
          .serial_hex = a->prepared.serial_hex, .tbs = a->prepared.tbs, .profile = a->req.label};
      return SignAndComplete(a, recorded);
    }
    case db::Decision::kResume:
      // An earlier attempt with this key reserved and was interrupted: finish that one.
      return Resume(a, *outcome->intent);
    case db::Decision::kAlreadyIssued:
      r.code = EnrollCode::kAlreadyIssued;
      r.der = outcome->existing->der;
      r.serial_hex = outcome->existing->serial_hex;
      r.detail = "retry with the same key";
      return a->done(std::move(r));
    case db::Decision::kBootstrapExhausted:
      return a->done(Refuse(EnrollCode::kBootstrapExhausted,
                            "bootstrap certificate already used with another key: possible clone"));
    case db::Decision::kKeyReuse:
      return a->done(Refuse(EnrollCode::kKeyReuse, "key already certified for another device"));
    case db::Decision::kDeviceBlocked:
      return a->done(Refuse(EnrollCode::kDeviceBlocked, "device id blocked by the operator"));
    case db::Decision::kAuthRevoked:
      return a->done(Refuse(EnrollCode::kAuthRevoked,
                            "authenticating certificate revoked or not in the store"));
    case db::Decision::kAuthDenylisted:
      return a->done(Refuse(EnrollCode::kAuthDenylisted, "bootstrap certificate denylisted"));
    case db::Decision::kDeviceEnrolled:
      return a->done(Refuse(EnrollCode::kDeviceEnrolled,
                            "device id already enrolled with another bootstrap certificate"));
  }
  a->done(Refuse(EnrollCode::kInternal, "unknown store decision"));
}

// Worker thread: a pending intent is signed only if its TBS is, byte for byte, what this daemon
// would build now for the authenticated device, the CSR's key and the endpoint's profile (with the
// intent's serial, at a moment at most kMaxResumeAge ago). Write access to the database is not
// signing power: a planted or altered intent, or one from before a profile change, is refused
// (500) and left pending for the operator, who finds its serial in the error line.
void Enroller::Resume(std::shared_ptr<Attempt> a, const db::Intent& intent) {
  // The intent's profile label is what the certificate will be recorded (and renew) under: it
  // must be this endpoint's, like every byte of its TBS.
  ca::Result<void> ok =
      intent.profile != a->req.label
          ? ca::Fail(ca::Code::kPolicy, "profile: '" + intent.profile + "', want '" +
                                            a->req.label + "'")
          : issuer_.CheckPrepared(intent.tbs, a->name.id, a->csr.public_key_der,
                                  ScopedProfile(*a), Now(), kMaxResumeAge);
  if (!ok) {
    auto r = Refuse(EnrollCode::kIntentMismatch,
                    "pending intent " + intent.serial_hex + " not signed: " + ok.error().detail);
    r.serial_hex = intent.serial_hex;
    return a->done(std::move(r));
  }
  SignAndComplete(a, intent);
}

// Worker thread: the CA key signs only a TBS whose intent is committed; Sign checks the result.
void Enroller::SignAndComplete(std::shared_ptr<Attempt> a, const db::Intent& intent) {
  auto issued = issuer_.Sign(intent.tbs, rng_);
  if (!issued) {
    return a->done(Refuse(EnrollCode::kInternal, "signing " + intent.serial_hex + ": " +
                                                     issued.error().detail));
  }
  auto record = RecordOf(std::move(*issued));
  const tls::PeerIdentity& peer = a->req.peer;
  record.device_id = a->name.qualified;
  record.profile = intent.profile;  // a resumed intent keeps the profile it was reserved under
  record.auth_cert_issuer = peer.cert->issuer;
  record.auth_cert_serial = peer.cert->serial_hex;
  record.auth_cert_fingerprint = peer.cert->fingerprint;
  record.kind = a->req.reenroll ? "reenroll" : "enroll";
  record.peer = a->req.peer_address;
  record.issued_at = ca::Iso8601(Now());
  db::EventRecord event{
      .time = record.issued_at,
      .peer = a->req.peer_address,
      .presented_fingerprint = peer.cert->fingerprint,
      .presented_subject = peer.cert->subject,
      .device_id = a->name.qualified,
      .endpoint = a->req.endpoint,
      .outcome = "issued",
      .http_status = 200,
      .reason = "issued",
      .serial_hex = record.serial_hex,
  };
  auto shared_record = std::make_shared<db::CertificateRecord>(std::move(record));
  PostQueue& inbox = inbox_;
  const bool queued = shared_.writer.SubmitComplete(
      *shared_record, std::move(event), [this, &inbox, a, shared_record](db::Result<void> done) {
        inbox.Post([this, a, shared_record, done = std::move(done)]() mutable {
          if (done) {
            EnrollResult r;
            r.code = EnrollCode::kIssued;
            r.der = std::move(shared_record->der);
            r.serial_hex = shared_record->serial_hex;
            return a->done(std::move(r));
          }
          OnCompleted(a, std::move(done));
        });
      });
  if (!queued) {
    a->done(Refuse(EnrollCode::kStoreUnavailable,
                   "issuance queue full; intent " + shared_record->serial_hex + " left pending"));
  }
}

void Enroller::OnCompleted(std::shared_ptr<Attempt> a, db::Result<void> done) {
  // The certificate was signed but its row did not commit: it is never sent; the intent stays
  // pending (revocable) and a retry with the same key resumes it.
  a->done(FromStoreError(done.error()));
}

}  // namespace provisiond
