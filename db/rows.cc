// rows.cc — binding and reading `certificates` rows, and the issuance insert; the column lists
// here and in rows.h must stay in the same order as the Bind/Read code.
#include "db/rows.h"

#include <cstdint>
#include <optional>
#include <string>

#include "db/audit.h"
#include "db/operations.h"

namespace db {
namespace {

constexpr const char* kInsertCertificate =
    "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
    "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
    "auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason, profile) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

void BindCertificate(Statement& stmt, const CertificateRecord& cert) {
  stmt.BindText(1, cert.serial_hex);
  stmt.BindText(2, cert.device_id);
  stmt.BindText(3, cert.subject);
  stmt.BindText(4, cert.san);
  stmt.BindText(5, cert.not_before);
  stmt.BindText(6, cert.not_after);
  stmt.BindBlob(7, cert.der);
  stmt.BindText(8, cert.fingerprint_sha256);
  stmt.BindText(9, cert.public_key_sha256);
  stmt.BindText(10, cert.auth_cert_issuer);
  stmt.BindText(11, cert.auth_cert_serial);
  stmt.BindText(12, cert.auth_cert_fingerprint);
  stmt.BindText(13, cert.kind);
  stmt.BindText(14, cert.peer);
  stmt.BindText(15, cert.issued_at);
  stmt.BindOptionalText(16, cert.revoked_at);
  std::optional<int64_t> reason;
  if (cert.revocation_reason) reason = *cert.revocation_reason;
  stmt.BindOptionalInt(17, reason);
  stmt.BindText(18, cert.profile);
}

}  // namespace

Result<void> InsertCertificate(Connection& db, const CertificateRecord& cert) {
  auto stmt = db.Prepare(kInsertCertificate);
  if (!stmt) return std::unexpected(stmt.error());
  BindCertificate(*stmt, cert);
  return stmt->Run();
}

Result<void> CheckIssuedEventSerial(const CertificateRecord& cert, const EventRecord& event,
                                    std::string_view caller) {
  if (event.serial_hex.empty() || event.serial_hex == cert.serial_hex) return {};
  return Fail(Code::kInternal, std::string(caller) + ": event serial " + event.serial_hex +
                                   " is not the certificate's " + cert.serial_hex);
}

Result<void> InsertIssuance(Connection& db, const CertificateRecord& cert,
                            const EventRecord& event) {
  if (auto inserted = InsertCertificate(db, cert); !inserted) return inserted;
  return InsertChainedEvent(db, event, cert.serial_hex);
}

Result<std::vector<CertificateRecord>> ReadAllCertificates(Statement& stmt) {
  std::vector<CertificateRecord> certs;
  for (;;) {
    auto row = stmt.Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return certs;
    certs.push_back(ReadCertificate(stmt));
  }
}

}  // namespace db
