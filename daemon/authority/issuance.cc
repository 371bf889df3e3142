// issuance.cc — the durable issuance after the checks: Prepare, Reserve through the queue, Sign
// the committed TBS, Complete through the queue; or resume an interrupted one (see enrollment.h).
#include "daemon/authority/enrollment.h"

#include <memory>

#include "ca/cdp.h"
#include "ca/cert.h"
#include "ca/encoding.h"
#include "daemon/authority/attempt.h"

namespace provisiond {
namespace {

// How old a pending intent may be and still be resumed: a retry after a crash normally comes
// within minutes; a device offline for longer than a week gets the intent_mismatch refusal and an
// operator revokes the intent (`provisiond revoke --serial`), after which it enrolls afresh.
constexpr base::UnixTime kMaxResumeAge = 7 * 86400;

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

// The endpoint's profile with the device's identity scope and the CRL of the generation that
// signs (ca::CrlUrlForGeneration: generation 1 keeps the configured URLs): what Prepare builds and
// what a resumed intent is checked against.
ca::Profile Enroller::ScopedProfile(const Attempt& a, int64_t gen) {
  ca::Profile profile = *a.req.profile;
  profile.identity_scope = a.name.scope;
  profile.crl_urls = ca::CrlUrlsForGeneration(profile.crl_urls, gen);
  return profile;
}

// Worker thread: build and lint the TBS (no CA key involved), then hand the intent to the queue.
std::optional<EnrollResult> Enroller::Reserve(std::shared_ptr<Attempt> a) {
  // The background check (daemon/store_checker.h) found a damaged page: nothing more is issued.
  if (std::string why = shared_.queue.Refusal(); !why.empty()) {
    return Refuse(EnrollCode::kStoreUnavailable, why);
  }
  const PeerIdentity& peer = a->req.peer;
  const base::UnixTime now = shared_.clock.Now();
  if (a->issuer == nullptr) {
    a->issuer = issuer_;
    a->ca_gen = ca_gen_;
  }
  auto prepared = a->issuer->Prepare(a->name.id, a->csr.public_key_der,
                                     ScopedProfile(*a, a->ca_gen), now, rng_);
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
      .created_at = ca::Iso8601(now),
      .profile = a->req.label,
  };
  const db::IssuancePolicy policy{.max_per_bootstrap =
                                      shared_.config().policy.bootstrap_max_enrollments};
  const bool queued = shared_.queue.SubmitReserve(
      std::move(intent), policy,
      [exec = executor_, this, a](db::Result<db::IssueOutcome> outcome) {
        // Queue's thread: touches nothing of the Enroller (its own copy of the executor); the
        // closure runs on the worker that owns the issuer and the connection.
        exec([this, a, outcome = std::move(outcome)]() mutable {
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
    case db::Decision::kRebootstrapGrantExpired:
      return a->done(Refuse(EnrollCode::kRebootstrapGrantExpired,
                            "re-bootstrap grant expired before it was used"));
    case db::Decision::kRebootstrapGrantSpent:
      return a->done(Refuse(EnrollCode::kRebootstrapGrantSpent,
                            "re-bootstrap grant already spent by an earlier issuance"));
    case db::Decision::kRebootstrapKeyNotNew:
      return a->done(Refuse(EnrollCode::kRebootstrapKeyNotNew,
                            "re-bootstrap needs a key never certified for this device"));
  }
  a->done(Refuse(EnrollCode::kInternal, "unknown store decision"));
}

// A pending intent is signed only if its TBS is, byte for byte, what `issuer` (generation gen)
// would build now for the authenticated device, the CSR's key and the endpoint's profile (with the
// intent's serial, at a moment at most kMaxResumeAge ago), under the endpoint's own profile label.
ca::Result<void> Enroller::CheckIntent(const Attempt& a, const ca::Issuer& issuer, int64_t gen,
                                       const db::Intent& intent) {
  // The intent's profile label is what the certificate will be recorded (and renew) under: it
  // must be this endpoint's, like every byte of its TBS.
  if (intent.profile != a.req.label) {
    return ca::Fail(ca::Code::kPolicy,
                    "profile: '" + intent.profile + "', want '" + a.req.label + "'");
  }
  return issuer.CheckPrepared(intent.tbs, a.name.id, a.csr.public_key_der, ScopedProfile(a, gen),
                              shared_.clock.Now(), kMaxResumeAge);
}

// Worker thread: Write access to the database is not signing power: a planted or altered intent,
// or one from before a profile change, is refused (500) and left pending for the operator, who
// finds its serial in the error line. An intent reserved before `ca activate` (its TBS names the
// previous generation's key and CRL) is signed by that generation while it is still trusted: the
// store committed exactly that TBS, so the device gets the one certificate its intent promised,
// and renews into the active generation later (docs/rollover.md). After `ca retire` it is refused
// like any other mismatch.
void Enroller::Resume(std::shared_ptr<Attempt> a, const db::Intent& intent) {
  if (a->issuer == nullptr) {
    a->issuer = issuer_;
    a->ca_gen = ca_gen_;
  }
  ca::Result<void> ok = CheckIntent(*a, *a->issuer, a->ca_gen, intent);
  if (!ok && previous_issuer_ != nullptr && a->issuer != previous_issuer_ &&
      CheckIntent(*a, *previous_issuer_, previous_gen_, intent)) {
    a->issuer = previous_issuer_;
    a->ca_gen = previous_gen_;
    ok = ca::Result<void>{};
  }
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
  if (a->issuer == nullptr) {  // a resumed intent: the issuer in force now
    a->issuer = issuer_;
    a->ca_gen = ca_gen_;
  }
  auto issued = a->issuer->Sign(intent.tbs, rng_);
  if (!issued) {
    // The intent stays pending: a retry (same key) resumes it once the key is back.
    const bool away = issued.error().code == ca::Code::kUnavailable;
    return a->done(Refuse(away ? EnrollCode::kCaKeyUnavailable : EnrollCode::kInternal,
                          "signing " + intent.serial_hex + ": " + issued.error().detail));
  }
  auto record = RecordOf(std::move(*issued));
  const PeerIdentity& peer = a->req.peer;
  record.device_id = a->name.qualified;
  record.profile = intent.profile;  // a resumed intent keeps the profile it was reserved under
  record.ca_gen = a->ca_gen;
  record.auth_cert_issuer = peer.cert->issuer;
  record.auth_cert_serial = peer.cert->serial_hex;
  record.auth_cert_fingerprint = peer.cert->fingerprint;
  record.kind = a->req.reenroll ? "reenroll" : "enroll";
  record.peer = a->req.peer_address;
  record.issued_at = ca::Iso8601(shared_.clock.Now());
  db::EventRecord event{
      .time = record.issued_at,
      .peer = a->req.peer_address,
      .presented_fingerprint = peer.cert->fingerprint,
      .presented_subject = peer.cert->subject,
      .device_id = a->name.qualified,
      .endpoint = a->req.endpoint,
      .outcome = "issued",
      .http_status = 200,
      // The store records that this key was generated here (never the key itself).
      .reason = a->server_key ? "issued_server_key" : "issued",
      .serial_hex = record.serial_hex,
  };
  auto shared_record = std::make_shared<db::CertificateRecord>(std::move(record));
  const bool queued = shared_.queue.SubmitComplete(
      *shared_record, std::move(event),
      [exec = executor_, this, a, shared_record](db::Result<void> done) {
        // Queue's thread: as in Reserve, only the copy of the executor is used here.
        exec([this, a, shared_record, done = std::move(done)]() mutable {
          if (done) {
            EnrollResult r;
            r.code = EnrollCode::kIssued;
            r.der = std::move(shared_record->der);
            r.serial_hex = shared_record->serial_hex;
            r.server_key = a->server_key;
            return a->done(std::move(r));
          }
          OnCompleted(a, shared_record->serial_hex, std::move(done));
        });
      });
  if (!queued) {
    a->done(Refuse(EnrollCode::kStoreUnavailable,
                   "issuance queue full; intent " + shared_record->serial_hex + " left pending"));
  }
}

void Enroller::OnCompleted(std::shared_ptr<Attempt> a, const std::string& serial_hex,
                           db::Result<void> done) {
  // Two attempts with the same key at once (a device retrying while its first attempt is still
  // in flight, on this replica or another): the second resumed the first's pending intent, and
  // the first completed it meanwhile. Its row is the certificate for this device and key (Complete
  // checked it against the intent this attempt's CheckPrepared accepted): answer with it, as
  // Reserve's kAlreadyIssued would have; what this attempt signed is never sent.
  if (done.error().code == db::Code::kConstraint) {
    auto found = reader_.FindBySerial(serial_hex);
    if (found && *found && (*found)->device_id == a->name.qualified && !(*found)->revoked_at) {
      EnrollResult r;
      r.code = EnrollCode::kAlreadyIssued;
      r.der = std::move((*found)->der);
      r.serial_hex = serial_hex;
      r.detail = "completed by a concurrent attempt with the same key";
      return a->done(std::move(r));
    }
  }
  // The certificate was signed but its row did not commit: it is never sent; the intent stays
  // pending (revocable) and a retry with the same key resumes it.
  a->done(FromStoreError(done.error()));
}

}  // namespace provisiond
