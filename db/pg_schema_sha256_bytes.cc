// pg_schema_sha256_bytes.cc — PostgreSQL migration 10 (schema_sha256_bytes.h): the SHA-256
// columns of certificates, issuance_intents, enroll_tombstones, manifest_devices and
// enrollment_events as 32-byte bytea, converted in place by ALTER COLUMN ... TYPE (decode of the
// hex), and active_certificates recreated to show them as hex.
#include <array>

#include "db/pg_conn.h"
#include "db/schema_sha256_bytes.h"

namespace db {
namespace {

// clang-format off (one clause a line, as psql's \d lists them)
// The hex CHECKs (named by PostgreSQL's default) go first: they cannot apply to bytea. The view
// names the columns, so it is dropped and recreated; enrollment_events_presented_fingerprint's
// predicate compares with '', so it is recreated as IS NOT NULL. decode() of anything but hex
// fails the migration; NULL stays NULL (tbs_sha256).
constexpr std::array kMigration = {
    "DROP VIEW active_certificates",
    "ALTER TABLE certificates "
    "DROP CONSTRAINT certificates_fingerprint_sha256_check, "
    "DROP CONSTRAINT certificates_public_key_sha256_check, "
    "DROP CONSTRAINT certificates_auth_cert_fingerprint_check, "
    "DROP CONSTRAINT certificates_tbs_sha256_check",
    "ALTER TABLE certificates "
    "ALTER COLUMN fingerprint_sha256 TYPE bytea USING decode(fingerprint_sha256, 'hex'), "
    "ALTER COLUMN public_key_sha256 TYPE bytea USING decode(public_key_sha256, 'hex'), "
    "ALTER COLUMN auth_cert_fingerprint TYPE bytea USING decode(auth_cert_fingerprint, 'hex'), "
    "ALTER COLUMN tbs_sha256 TYPE bytea USING decode(tbs_sha256, 'hex'), "
    "ADD CONSTRAINT certificates_fingerprint_sha256_check CHECK (length(fingerprint_sha256) = 32), "
    "ADD CONSTRAINT certificates_public_key_sha256_check CHECK (length(public_key_sha256) = 32), "
    "ADD CONSTRAINT certificates_auth_cert_fingerprint_check CHECK (length(auth_cert_fingerprint) = 32), "
    "ADD CONSTRAINT certificates_tbs_sha256_check CHECK (length(tbs_sha256) = 32)",
    "ALTER TABLE issuance_intents "
    "DROP CONSTRAINT issuance_intents_public_key_sha256_check, "
    "DROP CONSTRAINT issuance_intents_auth_cert_fingerprint_check, "
    "DROP CONSTRAINT issuance_intents_tbs_sha256_check",
    "ALTER TABLE issuance_intents "
    "ALTER COLUMN public_key_sha256 TYPE bytea USING decode(public_key_sha256, 'hex'), "
    "ALTER COLUMN auth_cert_fingerprint TYPE bytea USING decode(auth_cert_fingerprint, 'hex'), "
    "ALTER COLUMN tbs_sha256 TYPE bytea USING decode(tbs_sha256, 'hex'), "
    "ADD CONSTRAINT issuance_intents_public_key_sha256_check CHECK (length(public_key_sha256) = 32), "
    "ADD CONSTRAINT issuance_intents_auth_cert_fingerprint_check CHECK (length(auth_cert_fingerprint) = 32), "
    "ADD CONSTRAINT issuance_intents_tbs_sha256_check CHECK (length(tbs_sha256) = 32)",
    "ALTER TABLE enroll_tombstones "
    "DROP CONSTRAINT enroll_tombstones_auth_cert_fingerprint_check",
    "ALTER TABLE enroll_tombstones "
    "ALTER COLUMN auth_cert_fingerprint TYPE bytea USING decode(auth_cert_fingerprint, 'hex'), "
    "ADD CONSTRAINT enroll_tombstones_auth_cert_fingerprint_check CHECK (length(auth_cert_fingerprint) = 32)",
    "ALTER TABLE manifest_devices "
    "DROP CONSTRAINT manifest_devices_bootstrap_sha256_check",
    "ALTER TABLE manifest_devices "
    "ALTER COLUMN bootstrap_sha256 TYPE bytea USING decode(bootstrap_sha256, 'hex'), "
    "ADD CONSTRAINT manifest_devices_bootstrap_sha256_check CHECK (length(bootstrap_sha256) = 32)",
    "DROP INDEX enrollment_events_presented_fingerprint",
    "ALTER TABLE enrollment_events "
    "DROP CONSTRAINT enrollment_events_presented_fingerprint_check",
    "ALTER TABLE enrollment_events "
    "ALTER COLUMN presented_fingerprint DROP NOT NULL, "
    "ALTER COLUMN presented_fingerprint TYPE bytea USING CASE WHEN presented_fingerprint = '' "
    "THEN NULL ELSE decode(presented_fingerprint, 'hex') END, "
    "ADD CONSTRAINT enrollment_events_presented_fingerprint_check "
    "CHECK (length(presented_fingerprint) = 32)",
    "CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events "
    "(presented_fingerprint) WHERE presented_fingerprint IS NOT NULL",
    R"sql(CREATE VIEW active_certificates AS
  SELECT id, serial, device_id, subject, san, not_before, not_after, der,
         encode(fingerprint_sha256, 'hex') AS fingerprint_sha256,
         encode(public_key_sha256, 'hex') AS public_key_sha256, auth_cert_issuer, auth_cert_serial,
         encode(auth_cert_fingerprint, 'hex') AS auth_cert_fingerprint, kind, peer, issued_at
  FROM certificates
  WHERE revoked_at IS NULL
    AND not_after > to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))sql",
};
// clang-format on

}  // namespace

Result<void> PgMigrateSha256Bytes(PgConn& db) {
  for (const char* sql : kMigration) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
