// enrollment.cc — the checks of the enrollment decision, in their order (see enrollment.h).
#include "daemon/authority/enrollment.h"

#include <algorithm>
#include <cctype>

#include "ca/cert.h"
#include "ca/csr.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/authority/attempt.h"

namespace provisiond {
namespace {

// "application/pkcs10; charset=x" -> "application/pkcs10"
std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t") + 1);
  return t;
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
    case EnrollCode::kCaKeyUnavailable: return "ca_key_unavailable";
    case EnrollCode::kInternal: return "internal";
    case EnrollCode::kIntentMismatch: return "intent_mismatch";
    case EnrollCode::kProfileNotAllowed: return "profile_not_allowed";
    case EnrollCode::kProfileMismatch: return "profile_mismatch";
    case EnrollCode::kDeviceEnrolled: return "device_enrolled";
    case EnrollCode::kRebootstrapGrantExpired: return "rebootstrap_grant_expired";
    case EnrollCode::kRebootstrapGrantSpent: return "rebootstrap_grant_spent";
    case EnrollCode::kRebootstrapKeyNotNew: return "rebootstrap_key_not_new";
    case EnrollCode::kNotInManifest: return "not_in_manifest";
    case EnrollCode::kManifestMismatch: return "manifest_mismatch";
    case EnrollCode::kServerKeygenNeedsTls13: return "serverkeygen_needs_tls13";
    case EnrollCode::kServerKeygenFailed: return "serverkeygen_failed";
  }
  return "internal";
}

// Everything that can be decided without the database, in the order of enrollment.h: who is
// asking, then the CSR, then its key. On success returns kIssued (meaning "go on") and fills *csr
// and *name.
EnrollResult Enroller::CheckRequest(const EnrollRequest& req, ca::CheckedCsr* csr,
                                    DeviceName* name) {
  const AuthorityConfig& config = shared_.config();  // once: a reload may swap it meanwhile
  if (req.peer.kind == AuthKind::kNone) {
    return Refuse(EnrollCode::kNoClientCertificate, "no client certificate");
  }
  // The handshake could not check the certificate against the store: nothing else is done.
  if (!req.peer.status_unavailable.empty()) {
    return Refuse(EnrollCode::kStoreUnavailable, req.peer.status_unavailable);
  }
  auto named = DeviceNameOf(req.peer, config.identity_scope);
  if (named) *name = *named;
  if (auto r = CheckPeer(req, named); r.code != EnrollCode::kIssued) return r;
  if (auto r = CheckCsr(req, config, csr); r.code != EnrollCode::kIssued) return r;
  return CheckKey(req, config.policy, *csr);
}

// Rate limits, certificate kind, device id, the labelled profile's allow rule.
EnrollResult Enroller::CheckPeer(const EnrollRequest& req,
                                 const ca::Result<DeviceName>& named) {
  const PeerIdentity& peer = req.peer;
  // One bucket per device (whichever of its certificates it presents); a certificate naming no
  // device id still gets its own, so its refusals are limited too.
  const std::string device_key = named ? "device " + named->qualified
                                       : "certificate " + peer.cert->fingerprint;
  const TimeSource::Monotonic now = shared_.clock.Steady();
  if (auto wait = shared_.address_limiter.Take(
          req.peer_address.substr(0, req.peer_address.rfind(':')), now)) {
    auto r = Refuse(EnrollCode::kRateLimited, "source address over its rate limit");
    r.retry_after = *wait;
    return r;
  }
  if (auto wait = shared_.device_limiter.Take(device_key, now)) {
    auto r = Refuse(EnrollCode::kRateLimited, "device over its rate limit");
    r.retry_after = *wait;
    return r;
  }
  if (!req.reenroll && peer.kind == AuthKind::kOperational) {
    return Refuse(EnrollCode::kNeedsBootstrap, "operational certificate presented to simpleenroll");
  }
  if (req.reenroll && peer.kind == AuthKind::kBootstrap) {
    return Refuse(EnrollCode::kNeedsOperational,
                  "bootstrap certificate presented to simplereenroll");
  }
  if (req.server_keygen && !peer.tls13) {
    return Refuse(EnrollCode::kServerKeygenNeedsTls13, "serverkeygen over TLS 1.2");
  }
  if (!named) return Refuse(EnrollCode::kNoDeviceId, named.error().detail);
  if (!req.reenroll && !ProfileAllows(req.label, req.rule, peer)) {
    return Refuse(EnrollCode::kProfileNotAllowed,
                  "trust anchor \"" + peer.anchor_subject + "\" not allowed for " + req.endpoint);
  }
  return Refuse(EnrollCode::kIssued, "");
}

// Content type, base64, the CSR itself, its identity, channel binding. Fills *csr.
EnrollResult Enroller::CheckCsr(const EnrollRequest& req, const AuthorityConfig& config,
                                ca::CheckedCsr* csr) {
  const PeerIdentity& peer = req.peer;
  if (MediaType(req.content_type) != "application/pkcs10") {
    return Refuse(EnrollCode::kBadContentType, "Content-Type: " + req.content_type);
  }
  auto der = ca::Base64Decode(req.body, ca::kMaxCsrDer);
  if (!der) return Refuse(EnrollCode::kBadBase64, der.error().detail);
  auto checked = ca::CheckCsr(
      *der, req.server_keygen ? ca::CsrKey::kIgnored : ca::CsrKey::kProofOfPossession);
  if (!checked) {
    auto r = Refuse(EnrollCode::kBadCsr, checked.error().detail);
    r.csr_error = checked.error().code;
    return r;
  }
  // Operational certificates carry the id in CN (we issued them), so their CSR is checked there.
  auto source = req.reenroll ? ca::IdentitySource::kCommonName : config.identity;
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
  *csr = std::move(*checked);
  return Refuse(EnrollCode::kIssued, "");
}

// Key reuse against the client certificate, same-key renewal, the renewal window.
EnrollResult Enroller::CheckKey(const EnrollRequest& req, const Policy& policy,
                                const ca::CheckedCsr& csr) {
  if (req.server_keygen) return Refuse(EnrollCode::kIssued, "");  // the key is made here, fresh
  const PresentedCert& cert = *req.peer.cert;
  const bool same_key = csr.public_key_der == cert.public_key_der;
  if (same_key && !req.reenroll) {
    return Refuse(EnrollCode::kKeyReuse, "CSR key is the bootstrap certificate's key");
  }
  if (same_key && !policy.reenroll_same_key) {
    return Refuse(EnrollCode::kSameKeyRenewal, "CSR key is the current certificate's key");
  }
  if (req.reenroll && policy.renew_before > 0 &&
      shared_.clock.Now() < cert.not_after - policy.renew_before) {
    return Refuse(EnrollCode::kTooEarly, ca::Iso8601(cert.not_after - policy.renew_before));
  }
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

std::optional<EnrollResult> Enroller::Enroll(const EnrollRequest& req, EnrollDone done) {
  auto attempt = std::make_shared<Attempt>();
  EnrollResult checked = CheckRequest(req, &attempt->csr, &attempt->name);
  if (checked.code == EnrollCode::kIssued && req.reenroll) {
    checked = CheckRenewal(req, attempt->name);
  }
  if (checked.code == EnrollCode::kIssued && !req.reenroll) {
    checked = CheckManifest(req, attempt->name);
  }
  checked.device_id = attempt->name.qualified;
  if (checked.code != EnrollCode::kIssued) return checked;
  if (req.server_keygen) {
    // RFC 7030 §4.4.1: the CSR's key is ignored; the certificate certifies a key made by this
    // worker's DRBG (seeded from the OS entropy source), which only the reply will carry.
    auto key = ca::GenerateServerKey(rng_);
    if (!key) {
      auto r = Refuse(EnrollCode::kServerKeygenFailed, key.error().detail);
      r.device_id = attempt->name.qualified;
      return r;
    }
    attempt->csr.public_key_der = key->public_key_der;
    attempt->server_key = std::make_shared<const ca::ServerKey>(std::move(*key));
  }
  attempt->req = req;
  attempt->req.body.clear();  // decoded already; not kept while waiting for commits
  attempt->done = [done = std::move(done), id = attempt->name.qualified,
                   keygen = req.server_keygen](EnrollResult r) {
    r.device_id = id;
    // A certificate that exists already certifies a key we no longer hold (a fresh key cannot
    // meet an earlier one but by a hash collision): never answered with a certificate alone.
    if (keygen && r.code == EnrollCode::kAlreadyIssued) {
      r = Refuse(EnrollCode::kServerKeygenFailed, "serverkeygen: " + r.detail);
      r.device_id = id;
    }
    done(std::move(r));
  };
  auto refused = Reserve(attempt);  // a refusal before any write (Prepare, a full queue)
  if (refused) refused->device_id = attempt->name.qualified;
  return refused;
}

}  // namespace provisiond
