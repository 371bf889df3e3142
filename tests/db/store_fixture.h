// store_fixture.h — helpers for tests/db that hold for every backend: a temp dir, sample records,
// and issuing through the db::Store interface (Reserve + Complete, as production does).
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "db/store.h"

namespace db::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/provisiond-db-XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    // Newest first: what was set up last (a database in it) goes first.
    for (auto it = cleanups_.rbegin(); it != cleanups_.rend(); ++it) (*it)();
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }
  // The directory's own name (provisiond-db-XXXXXX): unique while it exists.
  std::string Name() const { return path_.filename().string(); }
  // Runs `cleanup` when the directory goes (before it is removed): e.g. dropping a database
  // whose name was taken from it.
  void OnCleanup(std::function<void()> cleanup) const { cleanups_.push_back(std::move(cleanup)); }

 private:
  std::filesystem::path path_;
  mutable std::vector<std::function<void()>> cleanups_;
};

// 32 hex digits, like ca::Issuer's 16-byte serials.
inline std::string SerialHex(int n) {
  std::string digits = std::to_string(n);
  return std::string(32 - digits.size(), '0') + digits;
}

inline CertificateRecord SampleCertificate(const std::string& serial_hex,
                                           const std::string& device_id = "device-0001") {
  CertificateRecord cert;
  cert.serial_hex = serial_hex;
  cert.device_id = device_id;
  cert.subject = "CN=" + device_id + ",O=Example";
  cert.san = "DNS:" + device_id + ".devices.example";
  cert.not_before = "2026-08-29T07:45:28Z";
  cert.not_after = "2026-11-27T07:50:28Z";
  cert.der = {0x30, 0x82, 0x00, 0x00, 0xff, 0x27, 0x00, 0x22};  // NULs and quotes on purpose
  cert.fingerprint_sha256 = serial_hex + serial_hex;            // unique per serial, 64 hex
  // Distinct per serial (64 hex): two samples are two keys, as two issuances are.
  cert.public_key_sha256 = (std::string(64, 'b') + serial_hex).substr(serial_hex.size());
  cert.auth_cert_issuer = "CN=Bootstrap CA";
  cert.auth_cert_serial = "0a1b";
  cert.auth_cert_fingerprint = std::string(64, 'c');
  cert.kind = "enroll";
  cert.peer = "127.0.0.1:53122";
  cert.issued_at = "2026-08-29T07:50:28Z";
  return cert;
}

inline EventRecord SampleEvent(const std::string& outcome, const std::string& serial_hex = "") {
  EventRecord event;
  event.time = "2026-08-29T07:50:28Z";
  event.peer = "127.0.0.1:53122";
  event.presented_fingerprint = std::string(64, 'c');
  event.presented_subject = "CN=device-0001";
  event.device_id = "device-0001";
  event.endpoint = "simpleenroll";
  event.outcome = outcome;
  event.http_status = outcome == "issued" ? 200 : 403;
  event.reason = outcome == "issued" ? "" : "identity mismatch";
  event.serial_hex = serial_hex;
  return event;
}

// 64 hex digits, distinct per n: a public-key or certificate hash.
inline std::string HashHex(int n, char fill = 'a') { return std::string(32, fill) + SerialHex(n); }

// An "enroll" certificate for `device_id` with key HashHex(key) obtained with `bootstrap_fp`.
inline CertificateRecord EnrollCertificate(int serial, int key, const std::string& device_id,
                                           const std::string& bootstrap_fp) {
  CertificateRecord cert = SampleCertificate(SerialHex(serial), device_id);
  cert.public_key_sha256 = HashHex(key);
  cert.auth_cert_fingerprint = bootstrap_fp;
  return cert;
}


// The certificate that completes `intent` (what signing its tbs yields).
inline CertificateRecord CertificateFor(const Intent& intent) {
  CertificateRecord cert = SampleCertificate(intent.serial_hex, intent.device_id);
  cert.kind = intent.kind;
  cert.public_key_sha256 = intent.public_key_sha256;
  cert.auth_cert_fingerprint = intent.auth_cert_fingerprint;
  cert.auth_cert_issuer = intent.auth_cert_issuer;
  cert.auth_cert_serial = intent.auth_cert_serial;
  cert.not_after = intent.not_after;
  return cert;
}

// Makes `record` (an Intent or a CertificateRecord) a "reenroll" authenticated by `current`, an
// operational certificate in the store (Reserve requires it to be unrevoked).
template <typename Record>
void ReenrollWith(Record& record, const CertificateRecord& current) {
  record.kind = "reenroll";
  record.auth_cert_issuer = "CN=provisiond CA";
  record.auth_cert_serial = current.serial_hex;
  record.auth_cert_fingerprint = current.fingerprint_sha256;
}

// The intent the daemon reserves before signing `cert` (its tbs stands for the TBSCertificate).
inline Intent IntentFor(const CertificateRecord& cert) {
  Intent intent;
  intent.serial_hex = cert.serial_hex;
  intent.device_id = cert.device_id;
  intent.kind = cert.kind;
  intent.public_key_sha256 = cert.public_key_sha256;
  intent.auth_cert_fingerprint = cert.auth_cert_fingerprint;
  intent.auth_cert_issuer = cert.auth_cert_issuer;
  intent.auth_cert_serial = cert.auth_cert_serial;
  intent.tbs = cert.der.empty() ? std::vector<unsigned char>{0x30, 0x00} : cert.der;
  intent.not_after = cert.not_after;
  intent.peer = cert.peer;
  intent.created_at = cert.issued_at;
  intent.profile = cert.profile;
  return intent;
}

// A pending-to-be "enroll" intent matching EnrollCertificate(serial, key, device_id, bootstrap_fp).
inline Intent EnrollIntent(int serial, int key, const std::string& device_id,
                           const std::string& bootstrap_fp) {
  Intent intent = IntentFor(EnrollCertificate(serial, key, device_id, bootstrap_fp));
  intent.tbs = {0x30, 0x82, 0x01, 0x00, static_cast<unsigned char>(serial & 0xff), 0x00};
  return intent;
}

// Issues `cert` the way production does: Reserve its intent under `policy`, then, if that answered
// kReserved, Complete it with `event`. Returns Reserve's outcome (kReserved: the certificate is
// committed; any other decision: nothing was written) or the first error of either phase.
inline Result<IssueOutcome> ReserveAndComplete(Store& store, const CertificateRecord& cert,
                                               const EventRecord& event,
                                               const IssuancePolicy& policy) {
  auto reserved = store.Reserve(IntentFor(cert), policy);
  if (!reserved || reserved->decision != Decision::kReserved) return reserved;
  if (auto completed = store.Complete(cert, event); !completed) {
    return std::unexpected(completed.error());
  }
  return reserved;
}

// A quota no test reaches: for tests about something other than the quota.
inline IssuancePolicy AnyQuota() { return IssuancePolicy{.max_per_bootstrap = 1 << 30}; }

// Issues one certificate (Reserve + Complete with its "issued" event); fails the test unless it
// was reserved and completed.
inline void Issue(Store& store, const CertificateRecord& cert) {
  auto issued = ReserveAndComplete(store, cert, SampleEvent("issued", cert.serial_hex), AnyQuota());
  REQUIRE_MESSAGE(issued.has_value(), (issued ? "" : issued.error().detail));
  REQUIRE(issued->decision == Decision::kReserved);
}

// Reserve that must not fail (a policy refusal is an outcome, not a failure); default quota 1.
inline IssueOutcome ReserveOrDie(Store& store, const Intent& intent, int max_per_bootstrap = 1) {
  auto outcome = store.Reserve(intent, IssuancePolicy{.max_per_bootstrap = max_per_bootstrap});
  REQUIRE_MESSAGE(outcome.has_value(), (outcome ? "" : outcome.error().detail));
  return *outcome;
}

// Completes a reserved intent with the certificate CertificateFor makes of it.
inline void CompleteOrDie(Store& store, const Intent& intent) {
  CertificateRecord cert = CertificateFor(intent);
  auto completed = store.Complete(cert, SampleEvent("issued", cert.serial_hex));
  REQUIRE_MESSAGE(completed.has_value(), (completed ? "" : completed.error().detail));
}

// Field by field (a failed CHECK names the field).
inline void CheckSameCertificate(const CertificateRecord& got, const CertificateRecord& want) {
  CHECK(got.serial_hex == want.serial_hex);
  CHECK(got.device_id == want.device_id);
  CHECK(got.subject == want.subject);
  CHECK(got.san == want.san);
  CHECK(got.not_before == want.not_before);
  CHECK(got.not_after == want.not_after);
  CHECK(got.der == want.der);
  CHECK(got.fingerprint_sha256 == want.fingerprint_sha256);
  CHECK(got.public_key_sha256 == want.public_key_sha256);
  CHECK(got.auth_cert_issuer == want.auth_cert_issuer);
  CHECK(got.auth_cert_serial == want.auth_cert_serial);
  CHECK(got.auth_cert_fingerprint == want.auth_cert_fingerprint);
  CHECK(got.kind == want.kind);
  CHECK(got.peer == want.peer);
  CHECK(got.issued_at == want.issued_at);
  CHECK(got.revoked_at == want.revoked_at);
  CHECK(got.revocation_reason == want.revocation_reason);
}

inline void CheckSameEvent(const EventRecord& got, const EventRecord& want) {
  CHECK(got.time == want.time);
  CHECK(got.peer == want.peer);
  CHECK(got.presented_fingerprint == want.presented_fingerprint);
  CHECK(got.presented_subject == want.presented_subject);
  CHECK(got.device_id == want.device_id);
  CHECK(got.endpoint == want.endpoint);
  CHECK(got.outcome == want.outcome);
  CHECK(got.http_status == want.http_status);
  CHECK(got.reason == want.reason);
  CHECK(got.serial_hex == want.serial_hex);
}

// Every event in the store (state events included), through the interface.
inline int64_t EventCount(Store& store) {
  auto events = store.RecentEvents(1 << 30);
  REQUIRE_MESSAGE(events.has_value(), (events ? "" : events.error().detail));
  return static_cast<int64_t>(events->size());
}

// Events other than the state events that intents, revocations, blocks and denylist rows add
// (db/audit_state.h): "issued", "rejected", ...
inline int64_t IssuanceEventCount(Store& store) {
  auto events = store.RecentEvents(1 << 30);
  REQUIRE_MESSAGE(events.has_value(), (events ? "" : events.error().detail));
  int64_t n = 0;
  for (const EventRecord& event : *events) n += event.endpoint != "state" ? 1 : 0;
  return n;
}

}  // namespace db::testing
