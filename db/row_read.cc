// row_read.cc — reading certificate, intent and event rows from either engine, and binding and
// reading their SHA-256 columns (see row_read.h).
#include "db/row_read.h"

#include "db/audit.h"
#include "db/sql_session.h"
#include "db/statement.h"

namespace db {

SqlParams& SqlParams::Sha256(std::string_view hex) {
  const std::vector<unsigned char> bytes = ChainHashBytes(hex);
  if (!bytes.empty()) return Blob(bytes);
  // Not a lowercase hex SHA-256: "" is NULL; anything else goes as the text, which no SHA-256
  // column holds (SQLite's STRICT BLOB refuses it, PostgreSQL's CHECK length 32), as the hex
  // CHECKs of the text columns refused it before.
  return hex.empty() ? Null() : Text(hex);
}

void BindSha256(Statement& stmt, int index, std::string_view hex, bool as_bytes) {
  const std::vector<unsigned char> bytes =
      as_bytes ? ChainHashBytes(hex) : std::vector<unsigned char>{};
  if (!bytes.empty()) {
    stmt.BindBlob(index, bytes);
  } else if (as_bytes && hex.empty()) {
    stmt.BindTextOrNull(index, hex);
  } else {
    stmt.BindText(index, hex);
  }
}

std::string Sha256Column(const RowView& row, int column) { return ChainHashHex(row, column); }

CertificateRecord ReadCertificate(const RowView& row) {
  CertificateRecord cert{.serial_hex = row.Text(0),
                         .device_id = row.Text(1),
                         .subject = row.Text(2),
                         .san = row.Text(3),
                         .not_before = row.Text(4),
                         .not_after = row.Text(5),
                         .der = row.Blob(6),
                         .fingerprint_sha256 = Sha256Column(row, 7),
                         .public_key_sha256 = Sha256Column(row, 8),
                         .auth_cert_issuer = row.Text(9),
                         .auth_cert_serial = row.Text(10),
                         .auth_cert_fingerprint = Sha256Column(row, 11),
                         .kind = row.Text(12),
                         .peer = row.Text(13),
                         .issued_at = row.Text(14),
                         .revoked_at = {},
                         .revocation_reason = {},
                         .profile = row.Text(17)};
  if (!row.IsNull(15)) cert.revoked_at = row.Text(15);
  if (!row.IsNull(16)) cert.revocation_reason = static_cast<int>(row.Int(16));
  cert.ca_gen = row.Int(18);
  return cert;
}

Intent ReadIntent(const RowView& row) {
  Intent intent{.serial_hex = row.Text(0),
                .device_id = row.Text(1),
                .kind = row.Text(2),
                .public_key_sha256 = Sha256Column(row, 3),
                .auth_cert_fingerprint = Sha256Column(row, 4),
                .auth_cert_issuer = row.Text(5),
                .auth_cert_serial = row.Text(6),
                .tbs = row.Blob(7),
                .not_after = row.Text(8),
                .peer = row.Text(9),
                .created_at = row.Text(10),
                .status = row.Text(11),
                .revoked_at = {},
                .revocation_reason = {},
                .profile = row.Text(14)};
  if (!row.IsNull(12)) intent.revoked_at = row.Text(12);
  if (!row.IsNull(13)) intent.revocation_reason = static_cast<int>(row.Int(13));
  return intent;
}

EventRecord ReadEvent(const RowView& row) {
  return EventRecord{.time = row.Text(0),
                     .peer = row.Text(1),
                     .presented_fingerprint = Sha256Column(row, 2),
                     .presented_subject = row.Text(3),
                     .device_id = row.Text(4),
                     .endpoint = row.Text(5),
                     .outcome = row.Text(6),
                     .http_status = static_cast<int>(row.Int(7)),
                     .reason = row.Text(8),
                     .serial_hex = row.Text(9)};  // NULL reads as ""
}

}  // namespace db
