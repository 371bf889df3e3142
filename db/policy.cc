// policy.cc — Store::IssueUnderPolicy: the issuance policy checks and the insert they allow, in
// one BEGIN IMMEDIATE transaction (the write lock is held from the first check to the commit).
#include <string>

#include "db/rows.h"
#include "db/statement.h"
#include "db/store.h"

namespace db {
namespace {

// Each query is served by an index from migration 1: certificates_public_key_sha256 and
// certificates_auth_cert_fingerprint.
constexpr const char* kKeyInOtherDevice =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE public_key_sha256 = ?1 AND device_id <> ?2)";
constexpr const char* kSameKeyEnrollment = PROVISIOND_CERT_SELECT
    "WHERE auth_cert_fingerprint = ?1 AND kind = 'enroll' AND public_key_sha256 = ?2 "
    "AND revoked_at IS NULL ORDER BY id DESC LIMIT 1";
constexpr const char* kCountEnrollments =
    "SELECT count(*) FROM certificates WHERE auth_cert_fingerprint = ?1 AND kind = 'enroll'";

Result<bool> KeyUsedByOtherDevice(sqlite3* db, const CertificateRecord& cert) {
  auto stmt = Statement::Prepare(db, kKeyInOtherDevice);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, cert.public_key_sha256);
  stmt->BindText(2, cert.device_id);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

Result<std::optional<CertificateRecord>> SameKeyEnrollment(sqlite3* db,
                                                           const CertificateRecord& cert) {
  auto stmt = Statement::Prepare(db, kSameKeyEnrollment);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, cert.auth_cert_fingerprint);
  stmt->BindText(2, cert.public_key_sha256);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<CertificateRecord>();
  return ReadCertificate(*stmt);
}

Result<int64_t> CountEnrollments(sqlite3* db, std::string_view auth_cert_fingerprint) {
  auto stmt = Statement::Prepare(db, kCountEnrollments);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, auth_cert_fingerprint);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? stmt->Int(0) : 0;
}

// The checks, in the order store.h lists them; writes only for kIssued. Runs inside the
// transaction.
Result<IssueOutcome> DecideAndInsert(sqlite3* db, const CertificateRecord& cert,
                                     const EventRecord& event, const IssuancePolicy& policy) {
  auto reused = KeyUsedByOtherDevice(db, cert);
  if (!reused) return std::unexpected(reused.error());
  if (*reused) return IssueOutcome{Decision::kKeyReuse, std::nullopt};
  if (cert.kind == "enroll") {
    auto existing = SameKeyEnrollment(db, cert);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) return IssueOutcome{Decision::kAlreadyIssued, std::move(*existing)};
    auto count = CountEnrollments(db, cert.auth_cert_fingerprint);
    if (!count) return std::unexpected(count.error());
    if (*count >= policy.max_per_bootstrap) {
      return IssueOutcome{Decision::kBootstrapExhausted, std::nullopt};
    }
  }
  if (auto inserted = InsertIssuance(db, cert, event); !inserted) {
    return std::unexpected(inserted.error());
  }
  return IssueOutcome{Decision::kIssued, std::nullopt};
}

}  // namespace

Result<IssueOutcome> Store::IssueUnderPolicy(const CertificateRecord& cert,
                                             const EventRecord& issued_event,
                                             const IssuancePolicy& policy) {
  std::lock_guard lock(mu_);
  if (auto checked = CheckIssuedEventSerial(cert, issued_event, "IssueUnderPolicy"); !checked) {
    return std::unexpected(checked.error());
  }
  std::optional<IssueOutcome> outcome;
  // A refusal commits an empty transaction: nothing was written either way.
  auto done = InWriteTransaction(db_, [&]() -> Result<void> {
    auto decided = DecideAndInsert(db_, cert, issued_event, policy);
    if (!decided) return std::unexpected(decided.error());
    outcome = std::move(*decided);
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return std::move(*outcome);
}

}  // namespace db
